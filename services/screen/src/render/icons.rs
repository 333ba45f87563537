//! The icons, drawn by hand (`#` is ink): a 12x12 set scaled by whole pixels, and an 8x8 set
//! for displays whose lines are too short for the big one.

use crate::model::Icon;

/// The side of the big icons, unscaled.
pub const LARGE: u32 = 12;
/// The side of the small icons, never scaled.
pub const SMALL: u32 = 8;

/// One 12x12 icon: bit 11 of a row is its leftmost pixel.
type Bitmap = [u16; 12];
/// One 8x8 icon.
type SmallBitmap = [u16; 8];

/// Turns a picture into row masks at compile time; a row of the wrong length fails the build.
const fn bitmap<const N: usize>(rows: [&str; N]) -> [u16; N] {
    let mut out = [0u16; N];
    let mut r = 0;
    while r < N {
        let bytes = rows[r].as_bytes();
        assert!(bytes.len() == N, "an icon is square");
        let mut c = 0;
        while c < N {
            if bytes[c] == b'#' {
                out[r] |= 1 << (N - 1 - c);
            }
            c += 1;
        }
        r += 1;
    }
    out
}

const LINE_IDLE: Bitmap = bitmap([
    "............",
    ".##########.",
    "############",
    "###......###",
    "............",
    "....####....",
    "..########..",
    ".##########.",
    ".##.#..#.##.",
    ".##########.",
    ".##########.",
    "............",
]);

const LINE_UNREGISTERED: Bitmap = bitmap([
    "............",
    ".##########.",
    "############",
    "###......###",
    "............",
    "...##..##...",
    "....####....",
    ".....##.....",
    "....####....",
    "...##..##...",
    "............",
    "............",
]);

const OFF_HOOK: Bitmap = bitmap([
    ".###........",
    "####........",
    "####........",
    "###.........",
    "##..........",
    "##..........",
    "##..........",
    "###.........",
    ".###....###.",
    "..#########.",
    "...#######..",
    "............",
]);

const CONNECTED: Bitmap = bitmap([
    ".###..####..",
    "####......#.",
    "####.##....#",
    "###....#...#",
    "##......#..#",
    "##......#...",
    "##..........",
    "###.........",
    ".###....###.",
    "..#########.",
    "...#######..",
    "............",
]);

const RINGOUT: Bitmap = bitmap([
    ".###...#####",
    "####.....###",
    "####....##.#",
    "###....##..#",
    "##....##....",
    "##....#.....",
    "##..........",
    "###.........",
    ".###....###.",
    "..#########.",
    "...#######..",
    "............",
]);

const HELD: Bitmap = bitmap([
    ".###...##.##",
    "####...##.##",
    "####...##.##",
    "###....##.##",
    "##.....##.##",
    "##..........",
    "##..........",
    "###.........",
    ".###....###.",
    "..#########.",
    "...#######..",
    "............",
]);

const RINGING: Bitmap = bitmap([
    ".....##.....",
    "....####....",
    "...######...",
    "..########..",
    "..########..",
    "..########..",
    "..########..",
    ".##########.",
    "############",
    "............",
    ".....##.....",
    "............",
]);

const CONFERENCE: Bitmap = bitmap([
    "............",
    ".##......##.",
    "####....####",
    "####.##.####",
    ".##.####.##.",
    "....####....",
    "###..##..###",
    "###......###",
    "##.######.##",
    "#.########.#",
    "..########..",
    "............",
]);

const ENVELOPE: Bitmap = bitmap([
    "............",
    "............",
    "############",
    "##........##",
    "#.#......#.#",
    "#..#....#..#",
    "#...#..#...#",
    "#....##....#",
    "#..........#",
    "############",
    "............",
    "............",
]);

const LOCKED: Bitmap = bitmap([
    "....####....",
    "...##..##...",
    "..##....##..",
    "..#......#..",
    "..#......#..",
    ".##########.",
    ".##########.",
    ".####..####.",
    ".####..####.",
    ".#####.####.",
    ".##########.",
    ".##########.",
]);

const UNLOCKED: Bitmap = bitmap([
    "#####.......",
    "##...##.....",
    "#.....##....",
    "#......#....",
    "#......#....",
    "....########",
    "....########",
    "....###..###",
    "....###..###",
    "....####.###",
    "....########",
    "....########",
]);

const FOLDER: Bitmap = bitmap([
    "............",
    "####........",
    "#...#.......",
    "#....######.",
    "#..........#",
    "#..........#",
    "#..........#",
    "#..........#",
    "#..........#",
    "############",
    "............",
    "............",
]);

const MISSED_CALL: Bitmap = bitmap([
    "............",
    ".......#####",
    ".........###",
    "##......##.#",
    ".##....##..#",
    "..##..##....",
    "...####.....",
    "....##......",
    "............",
    "............",
    "............",
    "............",
]);

const RECEIVED_CALL: Bitmap = bitmap([
    "............",
    "...........#",
    "..........##",
    ".........##.",
    "........##..",
    "##.....##...",
    "##....##....",
    "##...##.....",
    "##..##......",
    "##.##.......",
    "#######.....",
    "######......",
]);

const PLACED_CALL: Bitmap = bitmap([
    "......######",
    ".....#######",
    ".......##.##",
    "......##..##",
    ".....##...##",
    "....##....##",
    "...##.....##",
    "..##........",
    ".##.........",
    "##..........",
    "#...........",
    "............",
]);

const SPEAKER: Bitmap = bitmap([
    "............",
    ".....#...#..",
    "....##....#.",
    "...###..#..#",
    "######...#.#",
    "######...#.#",
    "######...#.#",
    "######...#.#",
    "...###..#..#",
    "....##....#.",
    ".....#...#..",
    "............",
]);

const HEADSET: Bitmap = bitmap([
    "...######...",
    "..#......#..",
    ".#........#.",
    ".#........#.",
    "###......###",
    "###......###",
    "###......###",
    "###......###",
    "..#.........",
    "..#.........",
    "...####.....",
    "............",
]);

const MUTED: Bitmap = bitmap([
    "#....##.....",
    ".#..####....",
    "..#.####....",
    "...#.###....",
    "..#.#.##.#..",
    "..#.##.#.#..",
    "..#..##..#..",
    "...#...#....",
    "....#####...",
    ".....##..#..",
    ".....##...#.",
    "...######..#",
]);

const SMALL_LINE_IDLE: SmallBitmap = bitmap([
    ".######.", "########", "##....##", "..####..", ".######.", "##.##.##", "########", "........",
]);

const SMALL_LINE_UNREGISTERED: SmallBitmap = bitmap([
    ".######.", "########", "##....##", ".##..##.", "..####..", "...##...", "..####..", ".##..##.",
]);

const SMALL_OFF_HOOK: SmallBitmap = bitmap([
    "##......", "##......", "#.......", "#.......", "##...##.", ".######.", "..####..", "........",
]);

const SMALL_CONNECTED: SmallBitmap = bitmap([
    "##..##..", "##....#.", "#..#..#.", "#...#...", "##...##.", ".######.", "..####..", "........",
]);

const SMALL_RINGOUT: SmallBitmap = bitmap([
    "##..####", "##....##", "#....#.#", "#...#...", "##...##.", ".######.", "..####..", "........",
]);

const SMALL_HELD: SmallBitmap = bitmap([
    "##..#.#.", "##..#.#.", "#...#.#.", "#.......", "##...##.", ".######.", "..####..", "........",
]);

const SMALL_RINGING: SmallBitmap = bitmap([
    "...##...", "..####..", ".######.", ".######.", ".######.", "########", "........", "...##...",
]);

const SMALL_CONFERENCE: SmallBitmap = bitmap([
    ".#....#.", "###..###", ".#.##.#.", "##.##.##", "..####..", ".######.", ".######.", "........",
]);

const SMALL_ENVELOPE: SmallBitmap = bitmap([
    "........", "########", "##....##", "#.#..#.#", "#..##..#", "#......#", "########", "........",
]);

const SMALL_LOCKED: SmallBitmap = bitmap([
    "..####..", ".#....#.", ".#....#.", "########", "###..###", "###..###", "########", "........",
]);

const SMALL_UNLOCKED: SmallBitmap = bitmap([
    ".####...", "#....#..", "#.......", "..######", "..###.##", "..###.##", "..######", "........",
]);

const SMALL_FOLDER: SmallBitmap = bitmap([
    "........", "###.....", "#..####.", "#......#", "#......#", "#......#", "########", "........",
]);

const SMALL_MISSED_CALL: SmallBitmap = bitmap([
    "........", "....####", "......##", "#....#.#", ".#..#...", "..##....", "........", "........",
]);

const SMALL_RECEIVED_CALL: SmallBitmap = bitmap([
    "........", "......##", ".....##.", "##..##..", "##.##...", "####....", "#####...", "........",
]);

const SMALL_PLACED_CALL: SmallBitmap = bitmap([
    "........", "...#####", "....####", "...##.##", "..##..##", ".##.....", "##......", "........",
]);

const SMALL_SPEAKER: SmallBitmap = bitmap([
    "...#....", "..##..#.", "####...#", "####.#.#", "####.#.#", "####...#", "..##..#.", "...#....",
]);

const SMALL_HEADSET: SmallBitmap = bitmap([
    "..####..", ".#....#.", "#......#", "##....##", "##....##", "##....##", ".#......", "..###...",
]);

const SMALL_MUTED: SmallBitmap = bitmap([
    "...#....", "..##....", "####.#.#", "####..#.", "####.#.#", "..##....", "...#....", "........",
]);

/// The picture of `icon` at `size` ([`LARGE`] or [`SMALL`]), as row masks.
pub(crate) fn rows_of(icon: Icon, size: u32) -> &'static [u16] {
    if size >= LARGE {
        large(icon)
    } else {
        small(icon)
    }
}

fn large(icon: Icon) -> &'static Bitmap {
    match icon {
        Icon::LineIdle => &LINE_IDLE,
        Icon::LineUnregistered => &LINE_UNREGISTERED,
        Icon::OffHook => &OFF_HOOK,
        Icon::Ringing => &RINGING,
        Icon::Ringout => &RINGOUT,
        Icon::Connected => &CONNECTED,
        Icon::Held => &HELD,
        Icon::Conference => &CONFERENCE,
        Icon::MessageWaiting => &ENVELOPE,
        Icon::Locked => &LOCKED,
        Icon::Unlocked => &UNLOCKED,
        Icon::Folder => &FOLDER,
        Icon::MissedCall => &MISSED_CALL,
        Icon::ReceivedCall => &RECEIVED_CALL,
        Icon::PlacedCall => &PLACED_CALL,
        Icon::Speaker => &SPEAKER,
        Icon::Headset => &HEADSET,
        Icon::Muted => &MUTED,
    }
}

fn small(icon: Icon) -> &'static SmallBitmap {
    match icon {
        Icon::LineIdle => &SMALL_LINE_IDLE,
        Icon::LineUnregistered => &SMALL_LINE_UNREGISTERED,
        Icon::OffHook => &SMALL_OFF_HOOK,
        Icon::Ringing => &SMALL_RINGING,
        Icon::Ringout => &SMALL_RINGOUT,
        Icon::Connected => &SMALL_CONNECTED,
        Icon::Held => &SMALL_HELD,
        Icon::Conference => &SMALL_CONFERENCE,
        Icon::MessageWaiting => &SMALL_ENVELOPE,
        Icon::Locked => &SMALL_LOCKED,
        Icon::Unlocked => &SMALL_UNLOCKED,
        Icon::Folder => &SMALL_FOLDER,
        Icon::MissedCall => &SMALL_MISSED_CALL,
        Icon::ReceivedCall => &SMALL_RECEIVED_CALL,
        Icon::PlacedCall => &SMALL_PLACED_CALL,
        Icon::Speaker => &SMALL_SPEAKER,
        Icon::Headset => &SMALL_HEADSET,
        Icon::Muted => &SMALL_MUTED,
    }
}

/// Every icon, for tests that go through them all.
#[cfg(test)]
const ALL: [Icon; 18] = [
    Icon::LineIdle,
    Icon::LineUnregistered,
    Icon::OffHook,
    Icon::Ringing,
    Icon::Ringout,
    Icon::Connected,
    Icon::Held,
    Icon::Conference,
    Icon::MessageWaiting,
    Icon::Locked,
    Icon::Unlocked,
    Icon::Folder,
    Icon::MissedCall,
    Icon::ReceivedCall,
    Icon::PlacedCall,
    Icon::Speaker,
    Icon::Headset,
    Icon::Muted,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_icon_is_drawn_and_no_two_look_the_same() {
        for size in [LARGE, SMALL] {
            for (i, a) in ALL.iter().enumerate() {
                let rows = rows_of(*a, size);
                assert_eq!(rows.len() as u32, size);
                let ink: u32 = rows.iter().map(|r| r.count_ones()).sum();
                assert!(ink >= size, "{a:?} at {size} has ink");
                assert!(rows.iter().all(|r| *r >> size == 0), "{a:?} fits {size}");
                for b in &ALL[i + 1..] {
                    assert_ne!(rows, rows_of(*b, size), "{a:?} and {b:?} at {size}");
                }
            }
        }
    }
}
