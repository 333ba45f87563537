//! The line editor: one byte in, what happened to the line out.
//!
//! It knows nothing about echo or prompts: the session decides what to show for each
//! [`Edit`] (nothing while a password is typed). A line ends at CR, LF or CR LF (and the
//! telnet CR NUL): the byte after a CR is swallowed when it is LF or NUL, so each line end
//! counts once whatever the client sends. A line longer than the limit is refused as a whole
//! rather than cut, because a cut command could do something else than the one typed.

/// What a byte did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Added to the line; show it.
    Insert(u8),
    /// The last character was removed (backspace, DEL).
    Erase,
    /// The line was cleared (Ctrl-U); this many characters were on it.
    Kill(usize),
    /// The line is full: the byte was dropped (ring the bell once).
    Refuse,
    /// Enter on a line that fits.
    Line(String),
    /// Enter on a line that was too long; it is dropped.
    Overlong,
    /// Ctrl-C: the line is dropped.
    Interrupt,
    /// Ctrl-D on an empty line.
    EndOfInput,
    /// A byte with no effect (other control characters, the LF of a CR LF).
    Nothing,
}

#[derive(Debug, Clone)]
pub struct LineEditor {
    buf: Vec<u8>,
    max: usize,
    overlong: bool,
    after_cr: bool,
}

impl LineEditor {
    /// An editor for lines of at most `max` bytes.
    pub fn new(max: usize) -> LineEditor {
        LineEditor {
            buf: Vec::new(),
            max,
            overlong: false,
            after_cr: false,
        }
    }

    /// Drops what has been typed so far.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.overlong = false;
    }

    pub fn feed(&mut self, byte: u8) -> Edit {
        let after_cr = std::mem::take(&mut self.after_cr);
        match byte {
            b'\n' | 0 if after_cr => Edit::Nothing,
            b'\r' | b'\n' => {
                self.after_cr = byte == b'\r';
                let overlong = self.overlong;
                let line = std::mem::take(&mut self.buf);
                self.overlong = false;
                if overlong {
                    Edit::Overlong
                } else {
                    Edit::Line(String::from_utf8_lossy(&line).into_owned())
                }
            }
            0x08 | 0x7f => {
                if self.overlong || self.buf.is_empty() {
                    // A cut line stays refused: erasing cannot bring back what was dropped.
                    return Edit::Nothing;
                }
                // One character, which is several bytes in UTF-8.
                while let Some(b) = self.buf.pop() {
                    if b & 0xC0 != 0x80 {
                        break;
                    }
                }
                Edit::Erase
            }
            0x15 => {
                let chars = self.buf.iter().filter(|b| *b & 0xC0 != 0x80).count();
                self.clear();
                Edit::Kill(chars)
            }
            0x03 => {
                self.clear();
                Edit::Interrupt
            }
            0x04 if self.buf.is_empty() && !self.overlong => Edit::EndOfInput,
            0x00..=0x1f => Edit::Nothing,
            _ if self.overlong => Edit::Nothing,
            _ if self.buf.len() >= self.max => {
                self.overlong = true;
                Edit::Refuse
            }
            _ => {
                self.buf.push(byte);
                Edit::Insert(byte)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(ed: &mut LineEditor, input: &[u8]) -> Vec<Edit> {
        input
            .iter()
            .map(|b| ed.feed(*b))
            .filter(|e| matches!(e, Edit::Line(_) | Edit::Overlong))
            .collect()
    }

    #[test]
    fn cr_lf_crlf_and_cr_nul_each_end_one_line() {
        let mut ed = LineEditor::new(80);
        assert_eq!(
            lines(&mut ed, b"a\rb\nc\r\nd\r\0\n"),
            vec![
                Edit::Line("a".into()),
                Edit::Line("b".into()),
                Edit::Line("c".into()),
                Edit::Line("d".into()),
                Edit::Line(String::new()),
            ]
        );
    }

    #[test]
    fn backspace_delete_and_kill_edit_the_line() {
        let mut ed = LineEditor::new(80);
        assert_eq!(
            lines(&mut ed, b"shox\x08w conx\x7ffig\r"),
            vec![Edit::Line("show config".into())]
        );
        // A two-byte character goes with one backspace; Ctrl-U clears the line.
        assert_eq!(ed.feed(b'x'), Edit::Insert(b'x'));
        for b in "é".bytes() {
            ed.feed(b);
        }
        assert_eq!(ed.feed(0x08), Edit::Erase);
        assert_eq!(ed.feed(0x15), Edit::Kill(1));
        assert_eq!(lines(&mut ed, b"ok\r"), vec![Edit::Line("ok".into())]);
        // Backspace on an empty line does nothing.
        assert_eq!(ed.feed(0x08), Edit::Nothing);
    }

    #[test]
    fn an_overlong_line_is_refused_whole_not_cut() {
        let mut ed = LineEditor::new(4);
        let edits: Vec<Edit> = b"abcdef".iter().map(|b| ed.feed(*b)).collect();
        assert_eq!(edits[4], Edit::Refuse);
        assert_eq!(edits[5], Edit::Nothing);
        // Erasing does not make it acceptable again.
        assert_eq!(ed.feed(0x08), Edit::Nothing);
        assert_eq!(ed.feed(b'\r'), Edit::Overlong);
        assert_eq!(lines(&mut ed, b"abcd\r"), vec![Edit::Line("abcd".into())]);
    }

    #[test]
    fn ctrl_c_drops_the_line_and_ctrl_d_ends_input_only_when_empty() {
        let mut ed = LineEditor::new(80);
        for b in b"reset" {
            ed.feed(*b);
        }
        assert_eq!(ed.feed(0x03), Edit::Interrupt);
        assert_eq!(ed.feed(0x04), Edit::EndOfInput);
        ed.feed(b'x');
        assert_eq!(ed.feed(0x04), Edit::Nothing);
        assert_eq!(lines(&mut ed, b"\r"), vec![Edit::Line("x".into())]);
    }
}
