//! Representative screens of the phone, shared by the golden tests and the benchmark.

#![allow(dead_code)]

use deskphone_screen::*;

fn softkeys(labels: [&str; 4]) -> [String; 4] {
    labels.map(String::from)
}

fn status(message_waiting: bool) -> StatusBar {
    StatusBar {
        left: "jdoe 1001".into(),
        right: "10:42a 03/14/25".into(),
        message_waiting,
    }
}

/// A 90x56 grey picture with soft edges: a sound wave of rounded bars over a base line.
pub fn logo() -> Image {
    let (w, h) = (90u32, 56u32);
    let bars = 11;
    let mut grey = Vec::with_capacity((w * h) as usize);
    for y in 0..h {
        for x in 0..w {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let mut distance = f32::MAX;
            for i in 0..bars {
                let cx = 5.0 + i as f32 * 8.0;
                let t = (i as f32 - 5.0) / 5.0;
                let half = 4.0 + 16.0 * (1.0 - t * t) * (0.75 + 0.25 * (i as f32 * 1.7).cos());
                let dy = (py - 23.0).abs() - half;
                let d = if dy > 0.0 {
                    ((px - cx).powi(2) + dy * dy).sqrt()
                } else {
                    (px - cx).abs()
                };
                distance = distance.min(d - 2.5);
            }
            let base = (py - 51.0).abs() - 1.5;
            let base = if (3.0..87.0).contains(&px) {
                base
            } else {
                f32::MAX
            };
            let d = distance.min(base);
            grey.push(((d + 0.5).clamp(0.0, 1.0) * 255.0) as u8);
        }
    }
    Image {
        width: w,
        height: h,
        grey,
    }
}

/// Idle: two lines (one not registered), a message waiting, the logo.
pub fn idle() -> Screen {
    Screen {
        status_bar: status(true),
        line_keys: vec![
            LineKey {
                label: "1001".into(),
                icon: Icon::LineIdle,
            },
            LineKey {
                label: "1002".into(),
                icon: Icon::LineUnregistered,
            },
        ],
        image: Some(logo()),
        prompt: Some("Your current options".into()),
        softkeys: softkeys(["Redial", "NewCall", "CFwdAll", "More"]),
        ..Screen::default()
    }
}

const SETTINGS: [&str; 10] = [
    "Contrast",
    "Ring Type",
    "Network Configuration",
    "SIP Configuration",
    "Call Preferences",
    "Volumes",
    "Status",
    "Model Information",
    "Erase Configuration",
    "Restart",
];

/// The Settings menu: ten numbered items, the third selected, locked.
pub fn settings() -> Screen {
    Screen {
        status_bar: status(false),
        title: Some(TitleBar {
            text: "Settings".into(),
            icon: Some(Icon::Locked),
            position: Some("3/10".into()),
        }),
        rows: SETTINGS
            .iter()
            .enumerate()
            .map(|(i, text)| Row {
                number: Some(i as u32 + 1),
                ..Row::text(*text)
            })
            .collect(),
        selected: Some(2),
        softkeys: softkeys(["Select", "", "", "Exit"]),
        ..Screen::default()
    }
}

/// A connected call on line 1, with the caller's Latin-1 name and the call timer.
pub fn call() -> Screen {
    Screen {
        status_bar: status(false),
        line_keys: vec![
            LineKey {
                label: "1001".into(),
                icon: Icon::Connected,
            },
            LineKey {
                label: "1002".into(),
                icon: Icon::LineIdle,
            },
        ],
        rows: vec![
            Row {
                icon: Some(Icon::Connected),
                value: Some("01:23".into()),
                ..Row::text("José Müller")
            },
            Row::text("2001@pbx.example.com"),
        ],
        selected: Some(0),
        prompt: Some("Connected".into()),
        softkeys: softkeys(["Hold", "EndCall", "Transfer", "More"]),
        ..Screen::default()
    }
}

/// Editing the TFTP server's address in Network Configuration, unlocked.
pub fn edit() -> Screen {
    Screen {
        status_bar: status(false),
        title: Some(TitleBar {
            text: "Network Configuration".into(),
            icon: Some(Icon::Unlocked),
            position: Some("8/33".into()),
        }),
        rows: vec![
            Row {
                number: Some(7),
                value: Some("Yes".into()),
                ..Row::text("DHCP Enabled")
            },
            Row {
                number: Some(8),
                value: Some("10.0.0.5".into()),
                ..Row::text("TFTP Server")
            },
        ],
        selected: Some(1),
        edit: Some(EditField {
            label: "TFTP Server".into(),
            shown: "192.168.10.5".into(),
            cursor: 9,
            mode: "IP".into(),
        }),
        prompt: Some("Enter the address".into()),
        softkeys: softkeys(["Validate", "Cancel", "<<", "."]),
        ..Screen::default()
    }
}

/// Every icon: six on the line keys, the rest in a directory-like list.
pub fn icons() -> Screen {
    let keys = [
        (Icon::LineIdle, "Idle"),
        (Icon::LineUnregistered, "No reg"),
        (Icon::OffHook, "Off hook"),
        (Icon::Ringing, "Ringing"),
        (Icon::Ringout, "Ringout"),
        (Icon::Connected, "Connected"),
    ];
    let rows = [
        (Icon::Held, "Held", "00:42"),
        (Icon::Conference, "Conference", "3"),
        (Icon::MessageWaiting, "Messages", "2 new"),
        (Icon::Locked, "Locked", ""),
        (Icon::Unlocked, "Unlocked", ""),
        (Icon::Folder, "Directories", ""),
        (Icon::MissedCall, "Missed: Zoë Östlund", "9:15a"),
        (Icon::ReceivedCall, "Received: 2003", "8:02a"),
        (Icon::PlacedCall, "Placed: 5551234", "Mon"),
        (Icon::Speaker, "Speaker", ""),
        (Icon::Headset, "Headset", ""),
        (Icon::Muted, "Muted", ""),
    ];
    Screen {
        status_bar: status(true),
        line_keys: keys
            .iter()
            .map(|(icon, label)| LineKey {
                label: (*label).into(),
                icon: *icon,
            })
            .collect(),
        title: Some(TitleBar {
            text: "Icons".into(),
            icon: None,
            position: Some("7/12".into()),
        }),
        rows: rows
            .iter()
            .map(|(icon, text, value)| Row {
                icon: Some(*icon),
                value: (!value.is_empty()).then(|| (*value).into()),
                ..Row::text(*text)
            })
            .collect(),
        selected: Some(6),
        prompt: Some("Every icon of the phone".into()),
        softkeys: softkeys(["Dial", "EditDial", "", "Exit"]),
        ..Screen::default()
    }
}

/// `count` numbered rows with the given one selected.
pub fn long_list(count: usize, selected: usize) -> Screen {
    Screen {
        status_bar: status(false),
        title: Some(TitleBar {
            text: "Directory".into(),
            icon: None,
            position: Some(format!("{}/{}", selected + 1, count)),
        }),
        rows: (0..count)
            .map(|i| Row {
                number: Some(i as u32 + 1),
                ..Row::text(format!("Entry {}", i + 1))
            })
            .collect(),
        selected: Some(selected),
        softkeys: softkeys(["Dial", "", "", "Exit"]),
        ..Screen::default()
    }
}
