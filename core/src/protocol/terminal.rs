//! Model-produced text on a terminal: control characters made visible.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal as is: C0 controls other than `\n`
/// and `\t` (ESC starts colour, cursor and title sequences; `\r` overwrites
/// the line), DEL, C1 controls (U+009B is a one-character CSI), and the Unicode
/// bidirectional overrides and isolates, which reorder what is shown.
fn is_unsafe(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

/// Text from the model (its code's output, observations, answers, messages)
/// made safe to print on a terminal: every control character except `\n` and
/// `\t` is written as an escape, `\x1b` for ASCII and DEL, `\u{9b}` for the
/// others; everything else is unchanged. Hosts printing model text in
/// human-readable (non-JSON) form pass it through here; JSON output needs no
/// such step (serde escapes control characters).
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !is_unsafe(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(escape_controls("\x1b[31mRED\x1b[0m"), "\\x1b[31mRED\\x1b[0m");
        assert_eq!(escape_controls("a\r\nb\x07c\x00d\x7f"), "a\\x0d\nb\\x07c\\x00d\\x7f");
        assert_eq!(escape_controls("\u{9b}2J \u{202e}txt.exe"), "\\u{9b}2J \\u{202e}txt.exe");
        assert_eq!(escape_controls("\x1b]0;title\x07"), "\\x1b]0;title\\x07");
        // Newlines, tabs, non-ASCII text and backslashes pass unchanged (and unallocated).
        let plain = "line 1\n\tline 2: 篡改 ✓ \\x1b";
        assert!(matches!(escape_controls(plain), std::borrow::Cow::Borrowed(_)));
        assert_eq!(escape_controls(plain), plain);
    }
}
