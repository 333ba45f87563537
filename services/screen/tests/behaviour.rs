//! What the drawing guarantees, checked on pixels but independent of the exact look: text
//! stays in its column, the selection is visible, soft keys are centred, small displays
//! neither panic nor get drawn outside.

#[path = "support/canvas.rs"]
#[allow(dead_code)]
mod canvas;
#[path = "support/screens.rs"]
mod screens;

use canvas::Canvas;
use deskphone_screen::render::{layout, render, Layout, Theme};
use deskphone_screen::*;
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;

fn draw(screen: &Screen, w: u32, h: u32, theme: &Theme) -> Canvas {
    let mut canvas = Canvas::new(w, h);
    render(screen, &mut canvas, theme).unwrap();
    assert_eq!(canvas.outside, 0, "drawn outside a {w}x{h} display");
    canvas
}

fn frame(screen: &Screen, w: u32, h: u32) -> Layout {
    layout(Size::new(w, h)).for_screen(screen)
}

/// Asserts that `a` and `b` differ, and only inside `area`.
fn differs_only_inside(a: &Canvas, b: &Canvas, area: Rectangle, what: &str) {
    let diff: Vec<Point> = a.diff(b).collect();
    assert!(!diff.is_empty(), "{what}: nothing drawn");
    let outside: Vec<&Point> = diff.iter().filter(|p| !area.contains(**p)).collect();
    assert!(
        outside.is_empty(),
        "{what}: ink outside {area:?} at {:?}",
        &outside[..outside.len().min(5)]
    );
}

const LONG: &str = "A name far too long for any column of this phone's little screen";

#[test]
fn long_row_text_stops_before_the_value() {
    let theme = Theme::LCD;
    for (w, h) in [(320, 240), (640, 480)] {
        let row = |text: &str| Row {
            value: Some("01:23".into()),
            ..Row::text(text)
        };
        let long = Screen {
            rows: vec![row(LONG)],
            ..Screen::default()
        };
        let empty = Screen {
            rows: vec![row("")],
            ..Screen::default()
        };
        let l = frame(&long, w, h);
        let columns = l.row_columns(l.row(0, false), &long.rows[0], false, 0);
        differs_only_inside(
            &draw(&long, w, h, &theme),
            &draw(&empty, w, h, &theme),
            columns.text,
            "row text",
        );
        assert!(
            columns.text.top_left.x + (columns.text.size.width as i32) < columns.value.top_left.x
        );
    }
}

#[test]
fn long_labels_stay_in_their_places() {
    let theme = Theme::LCD;
    let (w, h) = (320, 240);
    let key = |label: &str| LineKey {
        label: label.into(),
        icon: Icon::LineIdle,
    };

    // A line key label: inside its slot, left of its icon.
    let long = Screen {
        line_keys: vec![key(LONG)],
        ..Screen::default()
    };
    let empty = Screen {
        line_keys: vec![key("")],
        ..Screen::default()
    };
    let l = frame(&long, w, h);
    let slot = l.line_key_slot(0);
    let icon_x = slot.top_left.x + slot.size.width as i32 - (l.margin + l.icon_size) as i32;
    let label = Rectangle::new(
        slot.top_left,
        Size::new((icon_x - slot.top_left.x) as u32, slot.size.height),
    );
    differs_only_inside(
        &draw(&long, w, h, &theme),
        &draw(&empty, w, h, &theme),
        label,
        "line key",
    );

    // The status bar's label: left of the date and time.
    let status = |left: &str| Screen {
        status_bar: StatusBar {
            left: left.into(),
            right: "10:42a 03/14/25".into(),
            message_waiting: true,
        },
        ..Screen::default()
    };
    let time_x = w as i32 - (l.margin + 15 * l.font.cell().width) as i32;
    let left = Rectangle::new(
        Point::zero(),
        Size::new(time_x as u32, l.status_bar.size.height),
    );
    differs_only_inside(
        &draw(&status(LONG), w, h, &theme),
        &draw(&status(""), w, h, &theme),
        left,
        "status",
    );

    // A soft key label: inside its quarter (the tab is there in both).
    let softkey = |label: &str| Screen {
        softkeys: [String::new(), label.into(), String::new(), String::new()],
        ..Screen::default()
    };
    differs_only_inside(
        &draw(&softkey(LONG), w, h, &theme),
        &draw(&softkey("x"), w, h, &theme),
        l.softkeys[1],
        "soft key",
    );

    // The title: left of its position.
    let title = |text: &str| Screen {
        title: Some(TitleBar {
            text: text.into(),
            icon: Some(Icon::Locked),
            position: Some("12/14".into()),
        }),
        ..Screen::default()
    };
    let lt = frame(&title(LONG), w, h);
    let position_x = w as i32 - (2 * lt.margin + lt.icon_size + 5 * lt.font.cell().width) as i32;
    let text = Rectangle::new(
        lt.title_bar.top_left,
        Size::new(position_x as u32, lt.title_bar.size.height),
    );
    differs_only_inside(
        &draw(&title(LONG), w, h, &theme),
        &draw(&title(""), w, h, &theme),
        text,
        "title",
    );
}

#[test]
fn the_selected_row_is_always_visible_among_30() {
    let theme = Theme::LCD;
    for (w, h) in [(320, 240), (640, 480)] {
        for selected in 0..30 {
            let screen = screens::long_list(30, selected);
            let canvas = draw(&screen, w, h, &theme);
            let l = frame(&screen, w, h);
            let first = l.first_visible_row(30, Some(selected));
            for n in 0..l.visible_rows() {
                let row = l.row(n, true);
                let probe = row.top_left + Point::new(1, 1);
                let lit = canvas.get(probe.x as u32, probe.y as u32) == theme.highlight;
                assert_eq!(
                    lit,
                    first + n == selected,
                    "{w}x{h}, selected {selected}, row {n} on screen"
                );
            }
            // The scroll indicator is there and its thumb moves down the pages.
            let track = l.scroll_track();
            let thumb_top = (track.top_left.y..track.top_left.y + track.size.height as i32)
                .find(|y| canvas.get(track.top_left.x as u32, *y as u32) == theme.secondary)
                .expect("a scroll thumb");
            if first == 0 {
                assert_eq!(thumb_top, track.top_left.y);
            } else {
                assert!(thumb_top > track.top_left.y);
            }
        }
    }
}

#[test]
fn soft_key_labels_are_centred_in_their_quarters() {
    // A theme whose text colour appears nowhere else.
    let theme = Theme {
        text: Rgb888::new(255, 0, 0),
        ..Theme::LCD
    };
    let labels = ["Hold", "EndCall", "i", "Transfer"];
    let screen = Screen {
        softkeys: labels.map(String::from),
        ..Screen::default()
    };
    for (w, h) in [(320, 240), (640, 480), (1024, 768), (128, 64)] {
        let canvas = draw(&screen, w, h, &theme);
        let l = frame(&screen, w, h);
        for (quarter, label) in l.softkeys.iter().zip(labels) {
            let ink: Vec<Point> = canvas
                .points()
                .filter(|(p, c)| *c == theme.text && quarter.contains(*p))
                .map(|(p, _)| p)
                .collect();
            assert!(!ink.is_empty(), "{w}x{h}: {label} drawn");
            let left = ink.iter().map(|p| p.x).min().unwrap();
            let right = ink.iter().map(|p| p.x).max().unwrap();
            let ink_centre = (left + right) as f32 / 2.0;
            let quarter_centre =
                quarter.top_left.x as f32 + (quarter.size.width as f32 - 1.0) / 2.0;
            let tolerance = l.font.cell().width as f32 / 2.0;
            assert!(
                (ink_centre - quarter_centre).abs() <= tolerance,
                "{w}x{h}: {label} centred at {ink_centre}, quarter at {quarter_centre}"
            );
        }
    }
}

#[test]
fn small_and_odd_displays_get_what_fits_and_nothing_outside() {
    let theme = Theme::LCD;
    let all = [
        screens::idle(),
        screens::settings(),
        screens::call(),
        screens::edit(),
        screens::icons(),
        screens::long_list(30, 29),
    ];
    for (w, h) in [
        (0, 0),
        (1, 1),
        (0, 50),
        (16, 8),
        (64, 32),
        (128, 64),
        (160, 128),
        (96, 320),
        (2000, 40),
    ] {
        for screen in &all {
            draw(screen, w, h, &theme);
        }
    }
    // 128x64 still shows the soft keys and the selected menu item.
    let menu = screens::settings();
    let canvas = draw(&menu, 128, 64, &theme);
    let l = frame(&menu, 128, 64);
    assert!(canvas
        .points()
        .any(|(p, c)| c == theme.text && l.softkeys[0].contains(p)));
    assert!(canvas
        .points()
        .any(|(p, c)| c == theme.highlight && l.body.contains(p)));
}

#[test]
fn latin1_names_render_and_other_characters_become_question_marks() {
    let theme = Theme::LCD;
    let row = |text: &str| Screen {
        rows: vec![Row::text(text)],
        ..Screen::default()
    };
    let draw_row = |text: &str| draw(&row(text), 320, 240, &theme).pixels;
    assert_eq!(draw_row("名前"), draw_row("??"));
    assert_ne!(draw_row("Müller"), draw_row("Muller"));
    assert_ne!(draw_row("José"), draw_row("Jos?"));
}

#[test]
fn a_picture_is_centred_and_scaled_up_on_big_displays() {
    let theme = Theme::LCD;
    let black = Image {
        width: 90,
        height: 56,
        grey: vec![0; 90 * 56],
    };
    let screen = Screen {
        image: Some(black),
        ..Screen::default()
    };
    for (w, h, scale) in [(320, 240, 1), (640, 480, 2), (1024, 768, 3)] {
        let canvas = draw(&screen, w, h, &theme);
        let ink: Vec<Point> = canvas
            .points()
            .filter(|(_, c)| *c == theme.text)
            .map(|(p, _)| p)
            .collect();
        let (left, right) = (
            ink.iter().map(|p| p.x).min().unwrap(),
            ink.iter().map(|p| p.x).max().unwrap(),
        );
        let (top, bottom) = (
            ink.iter().map(|p| p.y).min().unwrap(),
            ink.iter().map(|p| p.y).max().unwrap(),
        );
        assert_eq!(
            (right - left + 1, bottom - top + 1),
            (90 * scale, 56 * scale),
            "{w}x{h}"
        );
        assert_eq!(ink.len() as i32, 90 * 56 * scale * scale);
        let body = frame(&screen, w, h).body;
        let centre = body.center();
        assert!(
            ((left + right) / 2 - centre.x).abs() <= 1
                && ((top + bottom) / 2 - centre.y).abs() <= 1
        );
    }
}

#[test]
fn a_picture_with_the_wrong_number_of_pixels_is_left_out() {
    let theme = Theme::LCD;
    let broken = Image {
        width: 90,
        height: 56,
        grey: vec![0; 100],
    };
    let with = Screen {
        image: Some(broken),
        ..screens::call()
    };
    let without = screens::call();
    assert_eq!(
        draw(&with, 320, 240, &theme).pixels,
        draw(&without, 320, 240, &theme).pixels
    );
}

#[test]
fn the_edit_cursor_stays_in_its_box() {
    let theme = Theme::LCD;
    let long: String = "0123456789".repeat(8);
    for cursor in [0, 5, 40, 79, 80, 500] {
        let screen = Screen {
            edit: Some(EditField {
                label: "Phone Label".into(),
                shown: long.clone(),
                cursor,
                mode: String::new(),
            }),
            ..Screen::default()
        };
        let canvas = draw(&screen, 320, 240, &theme);
        let edit = frame(&screen, 320, 240).edit;
        let cursor_ink = canvas
            .points()
            .filter(|(_, c)| *c == theme.highlight)
            .map(|(p, _)| p);
        let mut count = 0;
        for p in cursor_ink {
            assert!(
                edit.contains(p),
                "cursor {cursor} at {p:?}, outside {edit:?}"
            );
            count += 1;
        }
        assert!(count > 0, "cursor {cursor} drawn");
    }
}

#[test]
fn a_view_of_a_bigger_display_is_drawn_in_place() {
    // Drawn into the lower-right part of a bigger canvas, through a clipped view (whose
    // bounds start at the offset) or a cropped one (whose origin moves), the screen matches
    // the one drawn alone, and nothing around the view changes.
    let theme = Theme::LCD;
    let screen = screens::call();
    let alone = draw(&screen, 320, 240, &theme);
    let area = Rectangle::new(Point::new(80, 60), Size::new(320, 240));
    for clipped in [true, false] {
        let mut big = Canvas::new(400, 300);
        if clipped {
            render(&screen, &mut big.clipped(&area), &theme).unwrap();
        } else {
            render(&screen, &mut big.cropped(&area), &theme).unwrap();
        }
        for (p, c) in alone.points() {
            assert_eq!(big.get(p.x as u32 + 80, p.y as u32 + 60), c, "{p:?}");
        }
        let around = big
            .points()
            .filter(|(p, c)| !area.contains(*p) && *c != Rgb888::BLACK)
            .count();
        assert_eq!(around, 0, "drawn outside the view");
    }
}
