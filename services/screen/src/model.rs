//! What one screen shows, independent of pixels: the UI's state machine builds a [`Screen`],
//! the renderer draws it on a display of any size, and `phonectl status --json` reads its
//! text. Layout of a 7940/7960-class phone: a status bar (phone label, date and time), the
//! line keys' labels down the right side, a title bar for menus, the body, a prompt line,
//! and four soft key labels along the bottom.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Screen {
    /// The top line: `phone_label` (or the line 1 name) on the left, date and time on the
    /// right, already formatted per `date_format` / `time_format_24hr`.
    pub status_bar: StatusBar,
    /// The labels beside line keys 1-6 (only the lines the phone has).
    pub line_keys: Vec<LineKey>,
    /// A menu or call title under the status bar (`Settings`, `Network Configuration`, ...).
    pub title: Option<TitleBar>,
    /// The body rows, top to bottom. The renderer scrolls to keep `selected` visible.
    pub rows: Vec<Row>,
    /// The highlighted row, 0-based.
    pub selected: Option<usize>,
    /// A picture in the body (the idle logo, a service's image).
    pub image: Option<Image>,
    /// A field being edited (`phone_password`, an IP address), drawn below the rows.
    pub edit: Option<EditField>,
    /// The line above the soft keys (`Your current options`, `Enter password`, an error).
    pub prompt: Option<String>,
    /// The four soft key labels, left to right; empty for an unlabelled key.
    pub softkeys: [String; 4],
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusBar {
    pub left: String,
    pub right: String,
    /// The message-waiting envelope.
    pub message_waiting: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineKey {
    /// `lineN_shortname`, else `lineN_name`.
    pub label: String,
    pub icon: Icon,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TitleBar {
    pub text: String,
    /// The padlock of the Settings menus.
    pub icon: Option<Icon>,
    /// A position such as `2/14`, shown at the right end.
    pub position: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub icon: Option<Icon>,
    /// The item number of a menu (`1`, `2`, ...), drawn before the text.
    pub number: Option<u32>,
    pub text: String,
    /// A value drawn right-aligned (a setting's value, a call timer).
    pub value: Option<String>,
}

impl Row {
    pub fn text(text: impl Into<String>) -> Row {
        Row {
            text: text.into(),
            ..Row::default()
        }
    }
}

/// The small pictures of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Icon {
    /// A line that is registered and idle (a handset on hook).
    LineIdle,
    /// A line that is not registered (a handset with a cross).
    LineUnregistered,
    /// Off hook / dialling on this line.
    OffHook,
    /// Ringing here (a bell).
    Ringing,
    /// The far end rings (an outgoing call not yet answered).
    Ringout,
    /// Connected (handset off hook with sound).
    Connected,
    /// On hold.
    Held,
    /// Mixed in a conference.
    Conference,
    /// Messages waiting (an envelope).
    MessageWaiting,
    /// Settings locked / unlocked.
    Locked,
    Unlocked,
    /// A submenu (a folder).
    Folder,
    /// Directory entries.
    MissedCall,
    ReceivedCall,
    PlacedCall,
    /// Audio path indicators.
    Speaker,
    Headset,
    Muted,
}

/// A small picture, 8 bits per pixel grey (0 black, 255 white), row-major.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub grey: Vec<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditField {
    pub label: String,
    /// What is shown: the value, or stars for a password.
    pub shown: String,
    /// Cursor position in characters.
    pub cursor: usize,
    /// The input mode: `123` for digits, `abc` for multi-tap letters, `IP` for addresses.
    pub mode: String,
}
