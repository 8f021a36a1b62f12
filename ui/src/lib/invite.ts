/** The link an invite is shared as: the server's invite page, which a browser opens and the
 * app's "Join a server" dialog (and `auraspeak join`) accept as it is. */
export function inviteLink(serverUrl: string, code: string): string {
  return `${serverUrl.replace(/\/+$/, "")}/invite/${code}`;
}
