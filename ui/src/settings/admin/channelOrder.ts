// Where a channel sits: the channels it is ordered against, and the position updates that
// move it one place. Positions are server-wide numbers, but only their order among
// siblings shows: the sidebar lists a category's text channels, then its voice channels,
// and categories among themselves.

import type { Channel } from "../../lib/backend";
import { groupChannels } from "../../layout/ChannelList";

/** The channels `channel` moves among, in the order the sidebar shows them. */
export function channelSiblings(channels: Channel[], channel: Channel): Channel[] {
  const groups = groupChannels(channels);
  if (channel.kind === "category") return groups.flatMap((g) => (g.category ? [g.category] : []));
  const group = groups.find((g) => g.channels.some((c) => c.id === channel.id));
  return group ? group.channels.filter((c) => c.kind === channel.kind) : [channel];
}

/**
 * Position updates that swap `list[i]` with `list[i + dir]`. Distinct positions are simply
 * exchanged (two updates); where siblings share a position (older servers, or channels
 * created with one), the siblings are numbered again from the lowest, so the order the
 * user sees is the order that is stored.
 */
export function moveChannel(list: Channel[], i: number, dir: -1 | 1): { id: string; position: number }[] {
  const j = i + dir;
  if (i < 0 || j < 0 || i >= list.length || j >= list.length) return [];
  const strictlyIncreasing = list.every((c, k) => k === 0 || list[k - 1].position < c.position);
  const a = list[i];
  const b = list[j];
  if (strictlyIncreasing) return [{ id: a.id, position: b.position }, { id: b.id, position: a.position }];
  const order = [...list];
  order[i] = b;
  order[j] = a;
  const base = Math.min(...list.map((c) => c.position));
  return order.map((c, k) => ({ id: c.id, position: base + k })).filter((p) => p.position !== list.find((c) => c.id === p.id)!.position);
}
