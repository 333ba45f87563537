//! Message waiting (RFC 3842): the `message-summary` body of a NOTIFY, which voice-mail
//! systems send unsolicited to phones of the 7940/7960 generation (and in a subscription to
//! newer ones). It drives the message-waiting lamp and the Messages indicator.

/// What a `message-summary` body says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessageSummary {
    /// `Messages-Waiting: yes`.
    pub waiting: bool,
    /// `Voice-Message: new/old`, when given.
    pub voice: Option<(u32, u32)>,
}

/// Reads a `message-summary` body; `None` without a valid `Messages-Waiting` line (the one
/// line RFC 3842 requires). Unknown lines and message classes are ignored.
pub fn parse_message_summary(body: &[u8]) -> Option<MessageSummary> {
    let text = std::str::from_utf8(body).ok()?;
    let mut waiting = None;
    let mut voice = None;
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "messages-waiting" => {
                waiting = match value.to_ascii_lowercase().as_str() {
                    "yes" => Some(true),
                    "no" => Some(false),
                    _ => return None,
                }
            }
            "voice-message" => {
                // "new/old" optionally followed by "(urgent-new/urgent-old)".
                let counts = value.split_whitespace().next().unwrap_or_default();
                if let Some((new, old)) = counts.split_once('/') {
                    if let (Ok(new), Ok(old)) = (new.trim().parse(), old.trim().parse()) {
                        voice = Some((new, old));
                    }
                }
            }
            _ => {}
        }
    }
    Some(MessageSummary {
        waiting: waiting?,
        voice,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rfc_3842_examples_and_refuses_nonsense() {
        let body = b"Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\n\
                     Voice-Message: 2/8 (0/2)\r\n";
        assert_eq!(
            parse_message_summary(body),
            Some(MessageSummary {
                waiting: true,
                voice: Some((2, 8))
            })
        );
        assert_eq!(
            parse_message_summary(b"messages-waiting: NO\n"),
            Some(MessageSummary {
                waiting: false,
                voice: None
            })
        );
        assert_eq!(parse_message_summary(b"Voice-Message: 1/0\r\n"), None);
        assert_eq!(parse_message_summary(b"Messages-Waiting: maybe\r\n"), None);
        assert_eq!(parse_message_summary(&[0xff, 0xfe]), None);
        // A broken count is ignored, the indication is kept.
        assert_eq!(
            parse_message_summary(b"Messages-Waiting: yes\r\nVoice-Message: x/y\r\n"),
            Some(MessageSummary {
                waiting: true,
                voice: None
            })
        );
    }
}
