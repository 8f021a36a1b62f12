// Who is in which voice channel, and who is speaking: seeded from Ready.voice_states,
// updated by voice_state_update (join, leave, move, mute) and voice_speaking.

import type { VoiceState } from "../lib/backend";

export interface VoiceStates {
  byUser: Record<string, VoiceState>;
  /** Speaking flags, keyed by user; dropped when the user leaves or moves. */
  speaking: Record<string, boolean>;
}

export const emptyVoiceStates: VoiceStates = { byUser: {}, speaking: {} };

export type VoiceAction =
  | { type: "ready"; states: VoiceState[] }
  | { type: "update"; state: VoiceState }
  | { type: "speaking"; channelId: string; userId: string; speaking: boolean };

export function voiceReducer(state: VoiceStates, action: VoiceAction): VoiceStates {
  switch (action.type) {
    case "ready": {
      const byUser: Record<string, VoiceState> = {};
      for (const s of action.states) if (s.channel_id) byUser[s.user_id] = s;
      return { byUser, speaking: {} };
    }
    case "update": {
      const s = action.state;
      const prev = state.byUser[s.user_id];
      const byUser = { ...state.byUser };
      let speaking = state.speaking;
      if (!s.channel_id) delete byUser[s.user_id];
      else byUser[s.user_id] = s;
      if ((!s.channel_id || prev?.channel_id !== s.channel_id) && speaking[s.user_id]) {
        speaking = { ...speaking };
        delete speaking[s.user_id];
      }
      return { byUser, speaking };
    }
    case "speaking": {
      // Ignore speaking reports for a channel the user is no longer in (late packets).
      const cur = state.byUser[action.userId];
      if (action.speaking && cur?.channel_id !== action.channelId) return state;
      if (!!state.speaking[action.userId] === action.speaking) return state;
      const speaking = { ...state.speaking };
      if (action.speaking) speaking[action.userId] = true;
      else delete speaking[action.userId];
      return { ...state, speaking };
    }
  }
}

/** The users in one channel, in a stable order (by user ID, that is by account age). */
export function usersInChannel(state: VoiceStates, channelId: string): VoiceState[] {
  return Object.values(state.byUser)
    .filter((s) => s.channel_id === channelId)
    .sort((a, b) => (a.user_id.length - b.user_id.length) || (a.user_id < b.user_id ? -1 : 1));
}
