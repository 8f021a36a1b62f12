//! A push-to-talk binding ("Ctrl+Shift+M", "V", "CapsLock", "Mouse4") as physical inputs,
//! and whether it is held given the presses and releases seen so far. Keys are Linux evdev
//! codes: the UI records the physical key (`KeyboardEvent.code`), so a binding means the
//! same key on every keyboard layout, and X11 keycodes are evdev codes plus 8.

use std::collections::HashSet;

/// One physical input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Input {
    Key(u32),
    /// A mouse button as X numbers them (2 middle, 8 back, 9 forward).
    Button(u32),
}

/// A binding: every group must have one of its inputs down (a group is e.g. left or right
/// Ctrl).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chord {
    groups: Vec<Vec<Input>>,
    down: HashSet<Input>,
    held: bool,
}

impl Chord {
    /// Parses a binding as the settings store it. `None` for an empty or unknown one.
    pub(crate) fn parse(binding: &str) -> Option<Self> {
        let mut groups = Vec::new();
        for part in binding.split('+').map(str::trim) {
            let group = match part.to_ascii_lowercase().as_str() {
                "ctrl" | "control" | "commandorcontrol" | "cmdorctrl" => vec![29, 97],
                "shift" => vec![42, 54],
                "alt" | "option" => vec![56, 100],
                "super" | "meta" | "cmd" | "command" => vec![125, 126],
                _ => {
                    if let Some(button) = mouse_button(part) {
                        groups.push(vec![Input::Button(button)]);
                        continue;
                    }
                    vec![key_code(part)?]
                }
            };
            groups.push(group.into_iter().map(Input::Key).collect());
        }
        (!groups.is_empty()).then(|| Self { groups, down: HashSet::new(), held: false })
    }

    pub(crate) fn is_held(&self) -> bool {
        self.held
    }

    /// Notes a press or release; returns the new held state when it changed.
    pub(crate) fn update(&mut self, input: Input, pressed: bool) -> Option<bool> {
        if !self.groups.iter().flatten().any(|i| *i == input) {
            return None;
        }
        if pressed {
            self.down.insert(input);
        } else {
            self.down.remove(&input);
        }
        let held = self.groups.iter().all(|group| group.iter().any(|i| self.down.contains(i)));
        (held != self.held).then(|| {
            self.held = held;
            held
        })
    }
}

/// "Mouse3" (middle), "Mouse4" (back), "Mouse5" (forward), as Discord names them.
fn mouse_button(name: &str) -> Option<u32> {
    match name.to_ascii_lowercase().as_str() {
        "mouse3" => Some(2),
        "mouse4" => Some(8),
        "mouse5" => Some(9),
        _ => None,
    }
}

/// The evdev code of a key as the UI names it (`keybind.ts`: letters and digits bare,
/// `Num0`…, arrows without "Arrow", other `KeyboardEvent.code` values as they are).
fn key_code(name: &str) -> Option<u32> {
    const LETTERS: &[u8; 26] = b"ASDFGHJKLQWERTYUIOPZXCVBNM";
    const LETTER_CODES: [u32; 26] = [
        30, 31, 32, 33, 34, 35, 36, 37, 38, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 44, 45, 46, 47,
        48, 49, 50,
    ];
    let upper = name.to_ascii_uppercase();
    if let [c] = upper.as_bytes() {
        if let Some(i) = LETTERS.iter().position(|l| l == c) {
            return Some(LETTER_CODES[i]);
        }
        if c.is_ascii_digit() {
            return Some(if *c == b'0' { 11 } else { u32::from(c - b'1') + 2 });
        }
    }
    if let Some(n) = upper.strip_prefix('F').and_then(|n| n.parse::<u32>().ok()) {
        return match n {
            1..=10 => Some(58 + n),
            11 | 12 => Some(76 + n),
            13..=24 => Some(170 + n),
            _ => None,
        };
    }
    if let Some(d) = name.strip_prefix("Num").and_then(|d| d.parse::<usize>().ok()) {
        return [82, 79, 80, 81, 75, 76, 77, 71, 72, 73].get(d).copied();
    }
    Some(match name {
        "Escape" => 1,
        "Minus" => 12,
        "Equal" => 13,
        "Backspace" => 14,
        "Tab" => 15,
        "BracketLeft" => 26,
        "BracketRight" => 27,
        "Enter" => 28,
        "Semicolon" => 39,
        "Quote" => 40,
        "Backquote" => 41,
        "Backslash" => 43,
        "Comma" => 51,
        "Period" => 52,
        "Slash" => 53,
        "NumpadMultiply" => 55,
        "Space" => 57,
        "CapsLock" => 58,
        "NumLock" => 69,
        "ScrollLock" => 70,
        "NumpadSubtract" => 74,
        "NumpadAdd" => 78,
        "NumpadDecimal" => 83,
        "IntlBackslash" => 86,
        "NumpadEnter" => 96,
        "NumpadDivide" => 98,
        "PrintScreen" => 99,
        "Home" => 102,
        "Up" => 103,
        "PageUp" => 104,
        "Left" => 105,
        "Right" => 106,
        "End" => 107,
        "Down" => 108,
        "PageDown" => 109,
        "Insert" => 110,
        "Delete" => 111,
        "Pause" => 119,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: Input = Input::Key(47);
    const M: Input = Input::Key(50);
    const LEFT_CTRL: Input = Input::Key(29);
    const RIGHT_SHIFT: Input = Input::Key(54);

    #[test]
    fn a_single_key_is_held_while_down() {
        let mut chord = Chord::parse("V").expect("binding");
        assert_eq!(chord.update(Input::Key(46), true), None, "C is not the binding");
        assert_eq!(chord.update(V, true), Some(true));
        assert_eq!(chord.update(V, true), None, "auto-repeat changes nothing");
        assert_eq!(chord.update(V, false), Some(false));
    }

    #[test]
    fn a_chord_needs_every_part_and_either_side_of_a_modifier() {
        let mut chord = Chord::parse("Ctrl+Shift+M").expect("binding");
        assert_eq!(chord.update(M, true), None);
        assert_eq!(chord.update(LEFT_CTRL, true), None);
        assert_eq!(chord.update(RIGHT_SHIFT, true), Some(true));
        // Another key pressed meanwhile (a game's W) does not let go.
        assert_eq!(chord.update(Input::Key(17), true), None);
        assert_eq!(chord.update(LEFT_CTRL, false), Some(false));
        assert!(!chord.is_held());
    }

    #[test]
    fn mouse_side_buttons_and_named_keys_bind() {
        let mut chord = Chord::parse("Mouse4").expect("binding");
        assert_eq!(chord.update(Input::Button(8), true), Some(true));
        assert_eq!(chord.update(Input::Button(8), false), Some(false));
        for (name, code) in [
            ("CapsLock", 58),
            ("F1", 59),
            ("F12", 88),
            ("F13", 183),
            ("0", 11),
            ("1", 2),
            ("Num0", 82),
            ("Num7", 71),
            ("Backquote", 41),
            ("T", 20),
            ("Space", 57),
        ] {
            let mut chord = Chord::parse(name).unwrap_or_else(|| panic!("{name} binds"));
            assert_eq!(chord.update(Input::Key(code), true), Some(true), "{name}");
        }
    }

    #[test]
    fn unknown_or_empty_bindings_are_refused() {
        assert_eq!(Chord::parse(""), None);
        assert_eq!(Chord::parse("Ctrl+Banana"), None);
        assert_eq!(Chord::parse("F25"), None);
    }
}
