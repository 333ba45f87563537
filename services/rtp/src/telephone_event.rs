//! RFC 4733 telephone events (DTMF): payload format, sender and receiver.
//!
//! The sender is driven once per packet time by mediad instead of an audio frame while
//! an event is active; it never sends less than a minimum duration, so a tap on a key
//! still reaches the far end, and repeats the end packet three times (RFC 4733 2.5.1.4).
//! The receiver reports each event exactly once (a start and an end), whatever the
//! repetitions, and survives the loss of the first packets (no marker seen) or of all
//! end packets (ended by a timeout).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::Error;

/// Event codes 0-9, `*` = 10, `#` = 11, A-D = 12-15.
pub fn event_for_digit(digit: char) -> Option<u8> {
    match digit {
        '0'..='9' => Some(digit as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(digit as u8 - b'A' + 12),
        'a'..='d' => Some(digit as u8 - b'a' + 12),
        _ => None,
    }
}

/// The digit of an event code 0-15.
pub fn digit_for_event(event: u8) -> Option<char> {
    "0123456789*#ABCD".chars().nth(event as usize)
}

/// The 4-byte telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPayload {
    /// Event code.
    pub event: u8,
    /// E bit: this is (a repetition of) the last packet of the event.
    pub end: bool,
    /// Power level in -dBm0, 0-63.
    pub volume: u8,
    /// Duration so far in timestamp units.
    pub duration: u16,
}

impl EventPayload {
    /// Wire form.
    pub fn encode(&self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3f),
            d[0],
            d[1],
        ]
    }

    /// Parses the first event of a payload (a redundant RFC 2198 block is not handled).
    pub fn decode(data: &[u8]) -> Result<Self, Error> {
        if data.len() < 4 {
            return Err(Error::EventTooShort(data.len()));
        }
        Ok(Self {
            event: data[0],
            end: data[1] & 0x80 != 0,
            volume: data[1] & 0x3f,
            duration: u16::from_be_bytes([data[2], data[3]]),
        })
    }
}

/// One telephone-event packet to send: pass to
/// [`RtpSender::packet_at`](crate::RtpSender::packet_at).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// The payload to send.
    pub payload: [u8; 4],
    /// The event's RTP timestamp (its start).
    pub timestamp: u32,
    /// Marker bit (first packet of the event).
    pub marker: bool,
}

#[derive(Debug, Clone, Copy)]
struct Active {
    event: u8,
    start_ts: u32,
    duration: u32,
    released: bool,
    ends_left: u8,
    first: bool,
}

/// Sends digits as RFC 4733 events; digits pressed during an event are queued.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    packet_samples: u32,
    min_samples: u32,
    volume: u8,
    active: Option<Active>,
    queue: VecDeque<(u8, bool)>,
}

impl DtmfSender {
    /// A sender packetising every `packet_samples` samples (160 = 20 ms), with events of
    /// at least `min_duration`, at volume 10 (-10 dBm0).
    pub fn new(packet_samples: u32, min_duration: Duration) -> Self {
        Self {
            packet_samples: packet_samples.max(1),
            min_samples: (min_duration.as_secs_f64() * crate::CLOCK_RATE as f64) as u32,
            volume: 10,
            active: None,
            queue: VecDeque::new(),
        }
    }

    /// Key down.
    pub fn press(&mut self, event: u8) {
        self.queue.push_back((event, false));
    }

    /// Key up: ends the current (or queued) event once its minimum duration is reached.
    pub fn release(&mut self) {
        if let Some(last) = self.queue.back_mut() {
            last.1 = true;
        } else if let Some(a) = &mut self.active {
            a.released = true;
        }
    }

    /// Whether an event is being sent (mediad sends no audio meanwhile).
    pub fn is_active(&self) -> bool {
        self.active.is_some() || !self.queue.is_empty()
    }

    /// Called once per packet time; `now_ts` is the audio timestamp of this packet time
    /// ([`RtpSender::next_timestamp`](crate::RtpSender::next_timestamp)). Returns the
    /// packet to send, or `None` when no event is active (send audio instead). After
    /// each call that returned a packet, mediad calls `RtpSender::skip(packet_samples)`.
    pub fn next_packet(&mut self, now_ts: u32) -> Option<EventPacket> {
        if self.active.is_none() {
            let (event, released) = self.queue.pop_front()?;
            self.active = Some(Active {
                event,
                start_ts: now_ts,
                duration: 0,
                released,
                ends_left: 3,
                first: true,
            });
        }
        let a = self.active.as_mut().expect("set above");
        let ending = a.released && a.duration >= self.min_samples;
        if !ending {
            a.duration += self.packet_samples;
            // A very long press is cut into segments of at most 0xffff samples
            // (RFC 4733 2.5.1.3): a new segment carries the next timestamp.
            if a.duration > 0xffff {
                a.start_ts = a.start_ts.wrapping_add(a.duration - self.packet_samples);
                a.duration = self.packet_samples;
            }
        }
        let p = EventPacket {
            payload: EventPayload {
                event: a.event,
                end: ending,
                volume: self.volume,
                duration: a.duration as u16,
            }
            .encode(),
            timestamp: a.start_ts,
            marker: a.first,
        };
        a.first = false;
        if ending {
            a.ends_left -= 1;
            if a.ends_left == 0 {
                self.active = None;
            }
        }
        Some(p)
    }
}

/// A digit reported by [`DtmfReceiver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfEvent {
    /// An event began (reported once, even if its first packets were lost).
    Start {
        /// Event code.
        event: u8,
        /// Its RTP timestamp.
        timestamp: u32,
    },
    /// It ended (reported once).
    End {
        /// Event code.
        event: u8,
        /// Its duration in timestamp units (the longest reported).
        duration: u16,
        /// True when no end packet arrived and the event was ended by silence or a
        /// newer event.
        timed_out: bool,
    },
}

#[derive(Debug, Clone, Copy)]
struct RxEvent {
    event: u8,
    ts: u32,
    duration: u16,
    last_seen: Instant,
}

/// Turns received telephone-event packets into one start and one end per event.
#[derive(Debug, Clone)]
pub struct DtmfReceiver {
    timeout: Duration,
    current: Option<RxEvent>,
    // Timestamps of finished events, to drop their late repetitions.
    finished: VecDeque<u32>,
    events: VecDeque<DtmfEvent>,
}

impl Default for DtmfReceiver {
    fn default() -> Self {
        Self::new(Duration::from_millis(250))
    }
}

impl DtmfReceiver {
    /// A receiver ending an event after `timeout` without packets for it.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            current: None,
            finished: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Takes a telephone-event packet (header fields from [`crate::parse_rtp`]).
    pub fn handle_packet(
        &mut self,
        now: Instant,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<(), Error> {
        let p = EventPayload::decode(payload)?;
        if self.finished.contains(&timestamp) {
            return Ok(());
        }
        match &mut self.current {
            Some(c) if c.ts == timestamp => {
                c.duration = c.duration.max(p.duration);
                c.last_seen = now;
            }
            _ => {
                if let Some(c) = self.current.take() {
                    // A newer event: the old one ended without (or before) its end packet.
                    if (timestamp.wrapping_sub(c.ts) as i32) < 0 {
                        // A stray older event: ignore it, keep the current one.
                        self.current = Some(c);
                        return Ok(());
                    }
                    self.finish(c, true);
                }
                self.events.push_back(DtmfEvent::Start {
                    event: p.event,
                    timestamp,
                });
                self.current = Some(RxEvent {
                    event: p.event,
                    ts: timestamp,
                    duration: p.duration,
                    last_seen: now,
                });
            }
        }
        if p.end {
            let c = self.current.take().expect("set above");
            self.finish(c, false);
        }
        Ok(())
    }

    fn finish(&mut self, c: RxEvent, timed_out: bool) {
        self.events.push_back(DtmfEvent::End {
            event: c.event,
            duration: c.duration,
            timed_out,
        });
        self.finished.push_back(c.ts);
        if self.finished.len() > 16 {
            self.finished.pop_front();
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.current.map(|c| c.last_seen + self.timeout)
    }

    /// Ends an event whose end packets were all lost.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(c) = self.current {
            if now >= c.last_seen + self.timeout {
                self.current = None;
                self.finish(c, true);
            }
        }
    }

    /// The next start or end.
    pub fn poll_event(&mut self) -> Option<DtmfEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip_and_errors() {
        let p = EventPayload {
            event: 11,
            end: true,
            volume: 10,
            duration: 1280,
        };
        let b = p.encode();
        assert_eq!(b, [11, 0x8a, 0x05, 0x00]);
        assert_eq!(EventPayload::decode(&b).unwrap(), p);
        assert_eq!(EventPayload::decode(&b[..3]), Err(Error::EventTooShort(3)));
        // The reserved bit is ignored.
        assert!(!EventPayload::decode(&[1, 0x4a, 0, 0]).unwrap().end);
        assert_eq!(event_for_digit('#'), Some(11));
        assert_eq!(event_for_digit('7'), Some(7));
        assert_eq!(event_for_digit('x'), None);
        assert_eq!(digit_for_event(10), Some('*'));
        assert_eq!(digit_for_event(16), None);
    }

    fn drain(tx: &mut DtmfSender, start_ts: u32) -> Vec<EventPacket> {
        let mut ts = start_ts;
        let mut out = Vec::new();
        while let Some(p) = tx.next_packet(ts) {
            out.push(p);
            ts = ts.wrapping_add(160);
        }
        out
    }

    #[test]
    fn short_press_lasts_minimum_with_three_ends() {
        let mut tx = DtmfSender::new(160, Duration::from_millis(100));
        tx.press(5);
        tx.release();
        let pkts = drain(&mut tx, 1000);
        let d: Vec<_> = pkts
            .iter()
            .map(|p| EventPayload::decode(&p.payload).unwrap())
            .collect();
        // 5 packets growing to 100 ms, then 3 end packets with the same duration.
        assert_eq!(pkts.len(), 8);
        assert!(pkts[0].marker && pkts[1..].iter().all(|p| !p.marker));
        assert!(pkts.iter().all(|p| p.timestamp == 1000));
        let durs: Vec<u16> = d.iter().map(|e| e.duration).collect();
        assert_eq!(durs, [160, 320, 480, 640, 800, 800, 800, 800]);
        assert_eq!(d.iter().filter(|e| e.end).count(), 3);
        assert!(d[..5].iter().all(|e| !e.end));
        assert!(!tx.is_active());
    }

    #[test]
    fn held_key_and_queued_digits() {
        let mut tx = DtmfSender::new(160, Duration::from_millis(100));
        tx.press(1);
        let mut ts = 0;
        for i in 0..20 {
            let p = tx.next_packet(ts).unwrap();
            assert_eq!(
                EventPayload::decode(&p.payload).unwrap().duration,
                160 * (i + 1)
            );
            ts += 160;
        }
        tx.release();
        tx.press(2);
        tx.release();
        let rest = drain(&mut tx, ts);
        let ends: Vec<_> = rest
            .iter()
            .map(|p| (EventPayload::decode(&p.payload).unwrap(), p.timestamp))
            .collect();
        assert_eq!(ends[0].0.duration, 3200);
        assert!(ends[..3]
            .iter()
            .all(|(e, t)| e.end && e.event == 1 && *t == 0));
        // The second digit starts afterwards with its own timestamp and marker.
        assert_eq!(ends[3].0.event, 2);
        assert!(rest[3].marker);
        assert_eq!(rest[3].timestamp, ts + 3 * 160);
    }

    #[test]
    fn long_press_is_segmented() {
        let mut tx = DtmfSender::new(160, Duration::from_millis(100));
        tx.press(0);
        let mut last = None;
        for i in 0..500u32 {
            last = tx.next_packet(i * 160);
        }
        let p = last.unwrap();
        let e = EventPayload::decode(&p.payload).unwrap();
        assert!(p.timestamp > 0, "a new segment began");
        assert!(e.duration > 0 && (e.duration as u32) < 500 * 160);
    }

    fn rx_all(rx: &mut DtmfReceiver) -> Vec<DtmfEvent> {
        std::iter::from_fn(|| rx.poll_event()).collect()
    }

    #[test]
    fn receiver_reports_each_digit_once() {
        let mut tx = DtmfSender::new(160, Duration::from_millis(100));
        let mut rx = DtmfReceiver::default();
        let t0 = Instant::now();
        for d in [1u8, 2, 2] {
            tx.press(d);
            tx.release();
        }
        let pkts = drain(&mut tx, 0);
        for (i, p) in pkts.iter().enumerate() {
            let now = t0 + Duration::from_millis(20 * i as u64);
            rx.handle_packet(now, p.timestamp, &p.payload).unwrap();
            // A retransmission of everything changes nothing.
            rx.handle_packet(now, p.timestamp, &p.payload).unwrap();
        }
        let ev = rx_all(&mut rx);
        let starts: Vec<u8> = ev
            .iter()
            .filter_map(|e| match e {
                DtmfEvent::Start { event, .. } => Some(*event),
                _ => None,
            })
            .collect();
        assert_eq!(starts, [1, 2, 2]);
        let ends: Vec<_> = ev
            .iter()
            .filter_map(|e| match e {
                DtmfEvent::End {
                    event,
                    duration,
                    timed_out,
                } => Some((*event, *duration, *timed_out)),
                _ => None,
            })
            .collect();
        assert_eq!(ends, [(1, 800, false), (2, 800, false), (2, 800, false)]);
    }

    #[test]
    fn receiver_survives_lost_start_and_lost_end() {
        let mut rx = DtmfReceiver::default();
        let t0 = Instant::now();
        let pkt = |ev: u8, end: bool, dur: u16| {
            EventPayload {
                event: ev,
                end,
                volume: 10,
                duration: dur,
            }
            .encode()
        };
        // First two packets lost; no end packets at all.
        rx.handle_packet(t0, 800, &pkt(9, false, 480)).unwrap();
        rx.handle_packet(t0 + Duration::from_millis(20), 800, &pkt(9, false, 640))
            .unwrap();
        assert_eq!(
            rx.poll_event(),
            Some(DtmfEvent::Start {
                event: 9,
                timestamp: 800
            })
        );
        let due = rx.poll_timeout().unwrap();
        rx.handle_timeout(due - Duration::from_millis(1));
        assert_eq!(rx.poll_event(), None);
        rx.handle_timeout(due);
        assert_eq!(
            rx.poll_event(),
            Some(DtmfEvent::End {
                event: 9,
                duration: 640,
                timed_out: true
            })
        );
        assert_eq!(rx.poll_timeout(), None);
        // Its end packets arriving late are not a new digit.
        rx.handle_packet(due, 800, &pkt(9, true, 800)).unwrap();
        assert_eq!(rx.poll_event(), None);
        // Only an end packet of a new event: start and end together.
        rx.handle_packet(due, 5000, &pkt(3, true, 800)).unwrap();
        assert!(matches!(
            rx.poll_event(),
            Some(DtmfEvent::Start { event: 3, .. })
        ));
        assert!(matches!(
            rx.poll_event(),
            Some(DtmfEvent::End {
                event: 3,
                timed_out: false,
                ..
            })
        ));
        // A new event while one is running ends the old one.
        rx.handle_packet(due, 9000, &pkt(4, false, 160)).unwrap();
        rx.handle_packet(due, 9800, &pkt(6, false, 160)).unwrap();
        let ev = rx_all(&mut rx);
        assert_eq!(ev.len(), 3);
        assert!(matches!(
            ev[1],
            DtmfEvent::End {
                event: 4,
                timed_out: true,
                ..
            }
        ));
        assert!(matches!(ev[2], DtmfEvent::Start { event: 6, .. }));
        // A stray packet of an older, unknown event is ignored.
        rx.handle_packet(due, 9500, &pkt(7, false, 160)).unwrap();
        assert_eq!(rx.poll_event(), None);
        assert!(rx.handle_packet(due, 1, &[1, 2]).is_err());
    }
}
