//! answer() on a typical offer (Asterisk-like, four codecs and telephone-event).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use deskphone_sdp::{answer, Direction, LocalSession, MediaSettings};

const OFFER: &str = "v=0\r\n\
o=root 1821876330 1821876330 IN IP4 192.0.2.10\r\n\
s=Asterisk PBX 18.10.0\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 12468 RTP/AVP 8 0 3 18 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:3 GSM/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=maxptime:150\r\n\
a=sendrecv\r\n";

fn bench(c: &mut Criterion) {
    let settings = MediaSettings {
        g729: true,
        ..MediaSettings::default()
    };
    let mut session = LocalSession::new(4242, "phone", "192.0.2.20");
    c.bench_function("answer_asterisk_offer", |b| {
        b.iter(|| {
            answer(
                &mut session,
                &settings,
                black_box(OFFER),
                "192.0.2.20",
                16384,
                Direction::SendRecv,
            )
            .unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
