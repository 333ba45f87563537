//! The Services key and the external directory: the phone XML objects that `services_url`
//! and `directory_url` return (menu, text, directory, input, image), shown and followed as
//! a 7940 does. Sans-IO: a page asks for a fetch or a dial, the core does it.

use std::time::Instant;

use deskphone_ipc::ui::Key;
use deskphone_screen::{EditField, Icon, Image, Row, Screen, TitleBar};
use deskphone_xmlapps::{input_query, InputKind, PhoneObject, SoftKey};

use crate::entry::{EntryMode, TextEntry};

/// Characters per line when text is wrapped for the screen's body.
pub const WRAP_COLUMNS: usize = 28;

/// What a key on a service page asks the core to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlAction {
    None,
    /// Fetch this URL and show what it returns on top.
    Fetch(String),
    /// Place a call to this number.
    Dial(String),
    /// Leave the service screens.
    Close,
}

struct Page {
    object: PhoneObject,
    selected: usize,
    /// The answers of an input form, one per item.
    values: Vec<String>,
    editing: Option<(usize, TextEntry)>,
}

/// The pages opened from the Services or Directories key, the last on top.
pub struct XmlBrowser {
    title: String,
    pages: Vec<Page>,
    /// A fetch under way (shown as a message) or the last failure.
    status: Option<String>,
}

impl XmlBrowser {
    /// A browser waiting for its first page.
    pub fn loading(title: &str) -> XmlBrowser {
        XmlBrowser {
            title: title.into(),
            pages: Vec::new(),
            status: Some("Requesting...".into()),
        }
    }

    pub fn loaded(&mut self, result: Result<PhoneObject, String>) {
        match result {
            Ok(object) => {
                let values = match &object {
                    PhoneObject::Input(i) => {
                        i.items.iter().map(|it| it.default_value.clone()).collect()
                    }
                    _ => Vec::new(),
                };
                self.pages.push(Page {
                    object,
                    selected: 0,
                    values,
                    editing: None,
                });
                self.status = None;
            }
            Err(e) => self.status = Some(e),
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pages
            .last()
            .and_then(|p| p.editing.as_ref())
            .and_then(|(_, e)| e.poll_timeout())
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some((_, e)) = self.pages.last_mut().and_then(|p| p.editing.as_mut()) {
            e.handle_timeout(now);
        }
    }

    fn len(page: &Page) -> usize {
        match &page.object {
            PhoneObject::Menu(m) => m.items.len(),
            PhoneObject::Directory(d) => d.entries.len(),
            PhoneObject::Input(i) => i.items.len(),
            _ => 0,
        }
    }

    /// The soft keys: the object's own when it has any, else those of its kind.
    pub fn softkeys(&self) -> [String; 4] {
        let k = |a: &str, b: &str, c: &str, d: &str| [a.into(), b.into(), c.into(), d.into()];
        let Some(page) = self.pages.last() else {
            return k("", "", "", "Exit");
        };
        if page.editing.is_some() {
            return k("Validate", "<<", "Cancel", "");
        }
        let custom = soft_keys_of(&page.object);
        if !custom.is_empty() {
            let mut keys: [String; 4] = Default::default();
            for (i, sk) in custom.iter().enumerate() {
                let at = slot(i, sk);
                if (1..=4).contains(&at) {
                    keys[at - 1] = sk.name.clone();
                }
            }
            return keys;
        }
        match &page.object {
            PhoneObject::Menu(_) => k("Select", "", "", "Exit"),
            PhoneObject::Directory(_) => k("Dial", "", "", "Exit"),
            PhoneObject::Input(_) => k("Edit", "", "Submit", "Exit"),
            _ => k("", "", "", "Exit"),
        }
    }

    pub fn key(&mut self, key: Key, now: Instant) -> XmlAction {
        let Some(page) = self.pages.last_mut() else {
            return match key {
                Key::Soft(4) => XmlAction::Close,
                _ => XmlAction::None,
            };
        };
        if let Some((item, entry)) = &mut page.editing {
            if let Some(c) = key.dial_char() {
                entry.press(c, now);
                return XmlAction::None;
            }
            match key {
                Key::Soft(1) => {
                    page.values[*item] = entry.value();
                    page.editing = None;
                }
                Key::Soft(2) => entry.backspace(),
                Key::Soft(3) => page.editing = None,
                _ => {}
            }
            return XmlAction::None;
        }
        let n = Self::len(page);
        match key {
            Key::Up if n > 0 => page.selected = (page.selected + n - 1) % n,
            Key::Down if n > 0 => page.selected = (page.selected + 1) % n,
            Key::Digit(d) if d >= 1 && (d as usize) <= n => {
                page.selected = d as usize - 1;
                if matches!(page.object, PhoneObject::Menu(_)) {
                    return self.act("Select");
                }
            }
            Key::Soft(s) => {
                let label = self.softkeys()[(s - 1) as usize].clone();
                let page = self.pages.last().expect("a page");
                if let Some(sk) = soft_keys_of(&page.object)
                    .iter()
                    .enumerate()
                    .find(|(i, sk)| slot(*i, sk) == s as usize)
                    .map(|(_, sk)| sk.clone())
                {
                    return self.follow(&sk.url);
                }
                return self.act(&label);
            }
            _ => {}
        }
        XmlAction::None
    }

    /// A default soft key of the page's kind.
    fn act(&mut self, label: &str) -> XmlAction {
        let Some(page) = self.pages.last_mut() else {
            return XmlAction::None;
        };
        match (label, &page.object) {
            ("Select", PhoneObject::Menu(m)) => match m.items.get(page.selected) {
                Some(item) => {
                    let url = item.url.clone();
                    self.follow(&url)
                }
                None => XmlAction::None,
            },
            ("Dial", PhoneObject::Directory(d)) => d
                .entries
                .get(page.selected)
                .map(|e| XmlAction::Dial(e.telephone.clone()))
                .unwrap_or(XmlAction::None),
            ("Edit", PhoneObject::Input(i)) => {
                if let Some(item) = i.items.get(page.selected) {
                    let mode = match item.flags.kind {
                        InputKind::Numeric | InputKind::Telephone | InputKind::Equation => {
                            EntryMode::Digits
                        }
                        _ => EntryMode::Text,
                    };
                    let initial = page.values[page.selected].clone();
                    page.editing = Some((
                        page.selected,
                        TextEntry::new(&initial, mode, item.flags.password, 64),
                    ));
                }
                XmlAction::None
            }
            ("Submit", PhoneObject::Input(i)) => {
                let pairs: Vec<(&str, &str)> = i
                    .items
                    .iter()
                    .zip(&page.values)
                    .map(|(it, v)| (it.param.as_str(), v.as_str()))
                    .collect();
                XmlAction::Fetch(input_query(&i.url, &pairs))
            }
            ("Exit", _) | ("Back", _) => self.back(),
            _ => XmlAction::None,
        }
    }

    fn back(&mut self) -> XmlAction {
        self.pages.pop();
        self.status = None;
        if self.pages.is_empty() {
            XmlAction::Close
        } else {
            XmlAction::None
        }
    }

    /// A link: a URL to fetch, `Dial:N`, or one of the `SoftKey:` actions.
    fn follow(&mut self, link: &str) -> XmlAction {
        let link = link.trim();
        if link.starts_with("http://") || link.starts_with("https://") {
            self.status = Some("Requesting...".into());
            return XmlAction::Fetch(link.to_string());
        }
        if let Some(n) = link.strip_prefix("Dial:") {
            return XmlAction::Dial(n.trim().to_string());
        }
        match link.strip_prefix("SoftKey:").map(str::trim) {
            Some("Exit") | Some("Back") | Some("Cancel") => self.back(),
            Some(other) => self.act(other),
            None => {
                self.status = Some(format!("Cannot open {link}"));
                XmlAction::None
            }
        }
    }

    /// Fills the body of the screen.
    pub fn draw(&self, screen: &mut Screen) {
        let title = |t: &str, fallback: &str| TitleBar {
            text: if t.is_empty() {
                fallback.into()
            } else {
                t.into()
            },
            icon: None,
            position: None,
        };
        screen.softkeys = self.softkeys();
        let Some(page) = self.pages.last() else {
            screen.title = Some(title("", &self.title));
            screen.prompt = self.status.clone();
            return;
        };
        let numbered = |i: usize, text: &str, value: Option<String>| Row {
            icon: None,
            number: Some(i as u32 + 1),
            text: text.into(),
            value,
        };
        let prompt = match &page.object {
            PhoneObject::Menu(m) => {
                screen.title = Some(title(&m.title, &self.title));
                screen.rows = m
                    .items
                    .iter()
                    .enumerate()
                    .map(|(i, it)| numbered(i, &it.name, None))
                    .collect();
                m.prompt.clone()
            }
            PhoneObject::Directory(d) => {
                screen.title = Some(title(&d.title, &self.title));
                screen.rows = d
                    .entries
                    .iter()
                    .map(|e| Row {
                        icon: Some(Icon::PlacedCall),
                        number: None,
                        text: e.name.clone(),
                        value: Some(e.telephone.clone()),
                    })
                    .collect();
                d.prompt.clone()
            }
            PhoneObject::Input(i) => {
                screen.title = Some(title(&i.title, &self.title));
                screen.rows = i
                    .items
                    .iter()
                    .zip(&page.values)
                    .enumerate()
                    .map(|(n, (it, v))| {
                        let shown = if it.flags.password {
                            "*".repeat(v.chars().count())
                        } else {
                            v.clone()
                        };
                        numbered(n, &it.display_name, Some(shown))
                    })
                    .collect();
                if let Some((item, entry)) = &page.editing {
                    screen.edit = Some(EditField {
                        label: i.items[*item].display_name.clone(),
                        shown: entry.shown(),
                        cursor: entry.cursor(),
                        mode: entry.mode().label().into(),
                    });
                }
                i.prompt.clone()
            }
            PhoneObject::Text(t) => {
                screen.title = Some(title(&t.title, &self.title));
                screen.rows = wrap(&t.text, WRAP_COLUMNS)
                    .into_iter()
                    .map(Row::text)
                    .collect();
                t.prompt.clone()
            }
            PhoneObject::Image(img) => {
                screen.title = Some(title(&img.title, &self.title));
                screen.image = Some(Image {
                    width: img.width.into(),
                    height: img.height.into(),
                    grey: img.pixels.clone(),
                });
                img.prompt.clone()
            }
            PhoneObject::Error(e) => {
                screen.title = Some(title("", &self.title));
                let text = if e.message.is_empty() {
                    format!("Error {}", e.number)
                } else {
                    format!("Error {}: {}", e.number, e.message)
                };
                screen.rows = wrap(&text, WRAP_COLUMNS)
                    .into_iter()
                    .map(Row::text)
                    .collect();
                String::new()
            }
            PhoneObject::Response(r) => {
                screen.title = Some(title("", &self.title));
                screen.rows = r
                    .items
                    .iter()
                    .map(|it| Row {
                        text: it.data.clone(),
                        value: Some(it.status.to_string()),
                        ..Row::default()
                    })
                    .collect();
                String::new()
            }
        };
        if Self::len(page) > 0 {
            screen.selected = Some(page.selected);
        }
        screen.prompt = self
            .status
            .clone()
            .or_else(|| (!prompt.is_empty()).then_some(prompt));
    }
}

/// The soft key (1-4) a `SoftKeyItem` goes on: its Position, else its place in the list.
fn slot(index: usize, key: &SoftKey) -> usize {
    key.position.map(usize::from).unwrap_or(index + 1)
}

fn soft_keys_of(o: &PhoneObject) -> &[SoftKey] {
    match o {
        PhoneObject::Menu(m) => &m.soft_keys,
        PhoneObject::Text(t) => &t.soft_keys,
        PhoneObject::Directory(d) => &d.soft_keys,
        PhoneObject::Input(i) => &i.soft_keys,
        PhoneObject::Image(i) => &i.soft_keys,
        _ => &[],
    }
}

/// Splits text into lines of at most `width` characters at spaces (a longer word is cut),
/// keeping the text's own line breaks.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.lines() {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let mut word: Vec<char> = word.chars().collect();
            while word.len() > width {
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                lines.push(word.drain(..width).collect());
            }
            let word: String = word.into_iter().collect();
            let len = line.chars().count();
            if len > 0 && len + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&word);
        }
        lines.push(line);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(xml: &str) -> XmlBrowser {
        let mut b = XmlBrowser::loading("Services");
        b.loaded(deskphone_xmlapps::parse(xml.as_bytes()).map_err(|e| e.to_string()));
        b
    }

    #[test]
    fn a_menu_follows_its_links_and_exits() {
        let mut b = page(
            "<CiscoIPPhoneMenu><Title>Apps</Title><MenuItem><Name>Weather</Name>\
             <URL>http://10.0.0.1/w.xml</URL></MenuItem><MenuItem><Name>Call desk</Name>\
             <URL>Dial:2000</URL></MenuItem></CiscoIPPhoneMenu>",
        );
        let mut s = Screen::default();
        b.draw(&mut s);
        assert_eq!(s.title.unwrap().text, "Apps");
        assert_eq!(s.rows[1].text, "Call desk");
        let now = Instant::now();
        assert_eq!(
            b.key(Key::Soft(1), now),
            XmlAction::Fetch("http://10.0.0.1/w.xml".into())
        );
        assert_eq!(b.key(Key::Digit(2), now), XmlAction::Dial("2000".into()));
        assert_eq!(b.key(Key::Soft(4), now), XmlAction::Close);
    }

    #[test]
    fn an_input_form_submits_its_answers_in_the_query() {
        let mut b = page(
            "<CiscoIPPhoneInput><Title>Find</Title><URL>http://d/find</URL>\
             <InputItem><DisplayName>Name</DisplayName><QueryStringParam>n</QueryStringParam>\
             <InputFlags>A</InputFlags></InputItem><InputItem><DisplayName>Ext</DisplayName>\
             <QueryStringParam>x</QueryStringParam><InputFlags>N</InputFlags>\
             <DefaultValue>1</DefaultValue></InputItem></CiscoIPPhoneInput>",
        );
        let now = Instant::now();
        b.key(Key::Soft(1), now);
        for k in [Key::Digit(5), Key::Digit(5), Key::Digit(5), Key::Digit(2)] {
            b.key(k, now);
        }
        b.key(Key::Soft(1), now);
        assert_eq!(
            b.key(Key::Soft(3), now),
            XmlAction::Fetch("http://d/find?n=la&x=1".into())
        );
    }

    #[test]
    fn custom_soft_keys_replace_the_defaults() {
        let mut b = page(
            "<CiscoIPPhoneText><Text>Hello there</Text><SoftKeyItem><Name>More</Name>\
             <URL>http://x/more</URL><Position>2</Position></SoftKeyItem>\
             <SoftKeyItem><Name>Quit</Name><URL>SoftKey:Exit</URL><Position>4</Position>\
             </SoftKeyItem></CiscoIPPhoneText>",
        );
        assert_eq!(b.softkeys(), ["", "More", "", "Quit"]);
        let now = Instant::now();
        assert_eq!(
            b.key(Key::Soft(2), now),
            XmlAction::Fetch("http://x/more".into())
        );
        assert_eq!(b.key(Key::Soft(4), now), XmlAction::Close);
    }

    #[test]
    fn text_wraps_at_spaces_and_cuts_long_words() {
        assert_eq!(
            wrap("one two three four\nfive", 9),
            ["one two", "three", "four", "five"]
        );
        assert_eq!(wrap("abcdefghijkl", 5), ["abcde", "fghij", "kl"]);
    }
}
