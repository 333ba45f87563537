//! The phone XML objects, as plain data.
//!
//! Links (`URL` elements and attributes) are kept as the strings the server
//! wrote, because many are not web URLs at all (`SoftKey:Exit`, `Dial:1234`).
//! [`PhoneObject::resolve_links`] makes the relative ones absolute; [`crate::fetch`]
//! does that against the final URL of the document.

/// One document from `services_url`, `directory_url` or a link inside one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneObject {
    /// `CiscoIPPhoneMenu`: a list of named links.
    Menu(Menu),
    /// `CiscoIPPhoneText`: a page of text.
    Text(Text),
    /// `CiscoIPPhoneDirectory`: names with telephone numbers to dial.
    Directory(Directory),
    /// `CiscoIPPhoneInput`: a form whose answers go to a URL as a query string.
    Input(Input),
    /// `CiscoIPPhoneImage`: a greyscale picture.
    Image(Image),
    /// `CiscoIPPhoneError`: the server (or a phone) reports an error code.
    Error(PhoneError),
    /// `CiscoIPPhoneResponse`: results of a `CiscoIPPhoneExecute`.
    Response(Response),
}

/// A custom soft key (`SoftKeyItem`). Any custom soft key replaces all of the
/// object's default soft keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SoftKey {
    /// Label shown above the key.
    pub name: String,
    /// Action when the key is released: a URL or an internal URI (`SoftKey:Exit`).
    pub url: String,
    /// Action when the key is pressed (`URLDown`); internal URIs only.
    pub url_down: Option<String>,
    /// 1-based key position; `None` when the document gives none.
    pub position: Option<u8>,
}

/// `CiscoIPPhoneMenu`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Menu {
    pub title: String,
    pub prompt: String,
    pub items: Vec<MenuItem>,
    pub soft_keys: Vec<SoftKey>,
    /// The document had more than [`crate::MAX_MENU_ITEMS`] items; the rest were dropped.
    pub truncated: bool,
}

/// One `MenuItem`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MenuItem {
    pub name: String,
    /// Empty when the item has no `URL`: shown, but selecting it does nothing.
    pub url: String,
}

/// `CiscoIPPhoneText`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text {
    pub title: String,
    pub prompt: String,
    /// Line breaks inside the text are kept; only the ends are trimmed.
    pub text: String,
    pub soft_keys: Vec<SoftKey>,
}

/// `CiscoIPPhoneDirectory`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Directory {
    pub title: String,
    pub prompt: String,
    pub entries: Vec<DirectoryEntry>,
    pub soft_keys: Vec<SoftKey>,
    /// The document had more than [`crate::MAX_DIRECTORY_ENTRIES`] entries; the rest were dropped.
    pub truncated: bool,
}

/// One `DirectoryEntry`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirectoryEntry {
    pub name: String,
    /// As written: the user may edit it before dialling (EditDial).
    pub telephone: String,
}

/// `CiscoIPPhoneInput`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Input {
    pub title: String,
    pub prompt: String,
    /// Where the answers go, with [`crate::input_query`] (always GET).
    pub url: String,
    pub items: Vec<InputItem>,
    pub soft_keys: Vec<SoftKey>,
    /// The document had more than [`crate::MAX_INPUT_ITEMS`] items; the rest were dropped.
    pub truncated: bool,
}

/// One `InputItem`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InputItem {
    /// The label of the field.
    pub display_name: String,
    /// The query-string parameter the answer is sent as (`QueryStringParam`).
    pub param: String,
    pub default_value: String,
    pub flags: InputFlags,
}

/// What a field accepts (`InputFlags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InputFlags {
    pub kind: InputKind,
    /// `P`: the only flag that combines with another (`AP`, `NP`); echo `*`.
    pub password: bool,
}

/// The input type letter of [`InputFlags`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputKind {
    /// `A`: letters, digits and symbols with multi-tap entry. Also the default.
    #[default]
    Ascii,
    /// `T`: dial digits, `*` and `#`.
    Telephone,
    /// `N`: digits only.
    Numeric,
    /// `E`: digits and math symbols.
    Equation,
    /// `U`: upper-case letters only.
    Uppercase,
    /// `L`: lower-case letters only.
    Lowercase,
}

impl InputFlags {
    /// Reads a flags string such as `"A"`, `"NP"` or `"p"`. The first type
    /// letter wins; unknown letters are ignored; no type letter means `A`.
    pub fn parse(s: &str) -> InputFlags {
        let mut kind = None;
        let mut password = false;
        for c in s.chars() {
            let k = match c.to_ascii_uppercase() {
                'A' => InputKind::Ascii,
                'T' => InputKind::Telephone,
                'N' => InputKind::Numeric,
                'E' => InputKind::Equation,
                'U' => InputKind::Uppercase,
                'L' => InputKind::Lowercase,
                'P' => {
                    password = true;
                    continue;
                }
                _ => continue,
            };
            kind.get_or_insert(k);
        }
        InputFlags {
            kind: kind.unwrap_or_default(),
            password,
        }
    }
}

/// `CiscoIPPhoneImage`, already unpacked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Image {
    pub title: String,
    pub prompt: String,
    /// Left edge in the services pane; `-1` (with `y == -1`) centres the image.
    pub x: i32,
    /// Top edge in the services pane; `-1` (with `x == -1`) centres the image.
    pub y: i32,
    pub width: u16,
    pub height: u16,
    /// Bits per pixel in the document: 2 on the 7940/7960, 1 for black and white.
    pub depth: u8,
    /// `width * height` grey levels, row by row, 0 black .. 255 white.
    pub pixels: Vec<u8>,
    pub soft_keys: Vec<SoftKey>,
}

/// `CiscoIPPhoneError Number="n"`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PhoneError {
    /// 1 parse error in Execute, 2 error framing Response, 3 internal file
    /// error, 4 authentication error; others are the server's own.
    pub number: u32,
    /// The optional text content.
    pub message: String,
}

/// `CiscoIPPhoneResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    pub items: Vec<ResponseItem>,
}

/// One `ResponseItem` (all attributes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseItem {
    /// 0 when the executed item succeeded.
    pub status: i32,
    pub data: String,
    pub url: String,
}

impl PhoneObject {
    /// The `CiscoIPPhone...` element name of this object.
    pub fn root_name(&self) -> &'static str {
        match self {
            PhoneObject::Menu(_) => "CiscoIPPhoneMenu",
            PhoneObject::Text(_) => "CiscoIPPhoneText",
            PhoneObject::Directory(_) => "CiscoIPPhoneDirectory",
            PhoneObject::Input(_) => "CiscoIPPhoneInput",
            PhoneObject::Image(_) => "CiscoIPPhoneImage",
            PhoneObject::Error(_) => "CiscoIPPhoneError",
            PhoneObject::Response(_) => "CiscoIPPhoneResponse",
        }
    }

    /// The object's title, empty when it has none.
    pub fn title(&self) -> &str {
        match self {
            PhoneObject::Menu(m) => &m.title,
            PhoneObject::Text(t) => &t.title,
            PhoneObject::Directory(d) => &d.title,
            PhoneObject::Input(i) => &i.title,
            PhoneObject::Image(i) => &i.title,
            PhoneObject::Error(_) | PhoneObject::Response(_) => "",
        }
    }

    /// The custom soft keys (empty when the phone's defaults apply).
    pub fn soft_keys(&self) -> &[SoftKey] {
        match self {
            PhoneObject::Menu(m) => &m.soft_keys,
            PhoneObject::Text(t) => &t.soft_keys,
            PhoneObject::Directory(d) => &d.soft_keys,
            PhoneObject::Input(i) => &i.soft_keys,
            PhoneObject::Image(i) => &i.soft_keys,
            PhoneObject::Error(_) | PhoneObject::Response(_) => &[],
        }
    }

    /// Every link of the object that a key press may follow, for rewriting.
    pub(crate) fn links_mut(&mut self) -> Vec<&mut String> {
        let (own, soft_keys): (Vec<&mut String>, &mut Vec<SoftKey>) = match self {
            PhoneObject::Menu(m) => (
                m.items.iter_mut().map(|i| &mut i.url).collect(),
                &mut m.soft_keys,
            ),
            PhoneObject::Input(i) => (vec![&mut i.url], &mut i.soft_keys),
            PhoneObject::Text(t) => (Vec::new(), &mut t.soft_keys),
            PhoneObject::Directory(d) => (Vec::new(), &mut d.soft_keys),
            PhoneObject::Image(i) => (Vec::new(), &mut i.soft_keys),
            PhoneObject::Error(_) | PhoneObject::Response(_) => return Vec::new(),
        };
        // URLDown holds internal URIs only, so it is never resolved.
        own.into_iter()
            .chain(soft_keys.iter_mut().map(|k| &mut k.url))
            .collect()
    }
}
