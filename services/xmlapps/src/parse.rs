//! Bytes to [`PhoneObject`]: quick-xml events to a small element tree, the
//! tree to the object.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use thiserror::Error;

use crate::image::{decode_pixels, ImageError};
use crate::object::*;
use crate::text::{decode, unescape};
use crate::{MAX_DIRECTORY_ENTRIES, MAX_DOCUMENT_BYTES, MAX_INPUT_ITEMS, MAX_MENU_ITEMS};

/// Elements may nest no deeper than this (the objects use three levels).
const MAX_DEPTH: usize = 32;

/// Why a document is not a phone XML object this phone can show.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("document is {0} bytes, over the {MAX_DOCUMENT_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("unsupported character encoding {0:?}")]
    UnsupportedEncoding(String),
    #[error("not XML: no element found")]
    NotXml,
    #[error("malformed XML at byte {position}: {reason}")]
    Malformed { position: u64, reason: String },
    #[error("elements nested more than {MAX_DEPTH} deep")]
    TooDeep,
    #[error("unknown root element <{0}>")]
    UnknownRoot(String),
    #[error("<{0}> is a phone XML object this phone does not show")]
    Unsupported(String),
    #[error("<{object}> has no <{element}>")]
    Missing {
        object: &'static str,
        element: &'static str,
    },
    #[error("<{element}> is not a valid number: {value:?}")]
    BadNumber {
        element: &'static str,
        value: String,
    },
    #[error("bad image: {0}")]
    Image(#[from] ImageError),
}

/// Cisco objects that later phones show but the 7940/7960 does not.
const UNSUPPORTED_ROOTS: &[&str] = &[
    "CiscoIPPhoneImageFile",
    "CiscoIPPhoneGraphicMenu",
    "CiscoIPPhoneGraphicFileMenu",
    "CiscoIPPhoneIconMenu",
    "CiscoIPPhoneIconFileMenu",
    "CiscoIPPhoneStatus",
    "CiscoIPPhoneStatusFile",
    "CiscoIPPhoneExecute",
];

/// Parses one phone XML document.
///
/// Forgiving where the phones were: unknown elements and attributes are
/// ignored, element names match in any case, text is trimmed, a bare `&` is
/// kept, ISO-8859-1/Windows-1252 is accepted, content after the root element
/// is ignored, and over-long lists are cut to the phones' limits (the object's
/// `truncated` says so). Strict where a wrong guess would show garbage: not
/// XML, an unknown root, broken nesting, bad numbers, image data of the wrong
/// length, and documents over [`MAX_DOCUMENT_BYTES`].
pub fn parse(bytes: &[u8]) -> Result<PhoneObject, ParseError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(ParseError::TooLarge(bytes.len()));
    }
    let text = decode(bytes).map_err(ParseError::UnsupportedEncoding)?;
    let root = read_tree(&text)?;
    to_object(&root)
}

/// An element with its attributes, direct text and child elements.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn new(start: &BytesStart<'_>) -> Element {
        let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
        let mut attributes = Vec::new();
        // Attribute syntax errors skip the attribute rather than the document.
        for attribute in start.attributes().with_checks(false).flatten() {
            let key = String::from_utf8_lossy(attribute.key.local_name().as_ref()).into_owned();
            let value = String::from_utf8_lossy(&attribute.value);
            attributes.push((key, unescape(&value).trim().to_string()));
        }
        Element {
            name,
            attributes,
            ..Element::default()
        }
    }

    fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(name))
    }

    fn first_child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(name))
    }

    /// The trimmed text of the first child `name`, if there is one.
    fn child_text(&self, name: &str) -> Option<&str> {
        self.first_child(name).map(|c| c.text.trim())
    }

    /// Like [`Self::child_text`], empty when absent.
    fn field(&self, name: &str) -> String {
        self.child_text(name).unwrap_or_default().to_string()
    }

    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_tree(text: &str) -> Result<Element, ParseError> {
    let mut reader = Reader::from_str(text);
    let malformed = |reader: &Reader<&[u8]>, reason: String| ParseError::Malformed {
        position: reader.error_position(),
        reason,
    };
    // Open elements, the root first.
    let mut open: Vec<Element> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(&reader, e.to_string()))?;
        match event {
            Event::Start(start) => {
                if open.len() >= MAX_DEPTH {
                    return Err(ParseError::TooDeep);
                }
                let element = Element::new(&start);
                // Judge the root before reading on: an HTML error page should
                // say "unknown root <html>", not trip over an unclosed <br>.
                if open.is_empty() {
                    check_root(&element.name)?;
                }
                open.push(element);
            }
            Event::Empty(start) => {
                let element = Element::new(&start);
                match open.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => {
                        check_root(&element.name)?;
                        return Ok(element);
                    }
                }
            }
            Event::End(_) => {
                // quick-xml has checked that the name matches.
                let Some(done) = open.pop() else {
                    return Err(malformed(&reader, "end tag without start".into()));
                };
                match open.last_mut() {
                    Some(parent) => parent.children.push(done),
                    // Whatever follows the root is ignored.
                    None => return Ok(done),
                }
            }
            Event::Text(t) => {
                if let Some(current) = open.last_mut() {
                    let raw = String::from_utf8_lossy(&t);
                    current.text.push_str(&unescape(&raw));
                }
            }
            Event::CData(c) => {
                if let Some(current) = open.last_mut() {
                    current.text.push_str(&String::from_utf8_lossy(&c));
                }
            }
            Event::Eof => {
                return Err(match open.first() {
                    None => ParseError::NotXml,
                    Some(_) => malformed(
                        &reader,
                        format!("document ends inside <{}>", open[open.len() - 1].name),
                    ),
                });
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
}

fn check_root(name: &str) -> Result<(), ParseError> {
    const KNOWN: &[&str] = &[
        "CiscoIPPhoneMenu",
        "CiscoIPPhoneText",
        "CiscoIPPhoneDirectory",
        "CiscoIPPhoneInput",
        "CiscoIPPhoneImage",
        "CiscoIPPhoneError",
        "CiscoIPPhoneResponse",
    ];
    if KNOWN.iter().any(|k| k.eq_ignore_ascii_case(name)) {
        Ok(())
    } else if let Some(known) = UNSUPPORTED_ROOTS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
    {
        Err(ParseError::Unsupported(known.to_string()))
    } else {
        Err(ParseError::UnknownRoot(name.to_string()))
    }
}

fn to_object(root: &Element) -> Result<PhoneObject, ParseError> {
    let title = root.field("Title");
    let prompt = root.field("Prompt");
    let name = root.name.to_ascii_lowercase();
    Ok(match name.as_str() {
        "ciscoipphonemenu" => {
            let (items, truncated) = capped(root.children("MenuItem"), MAX_MENU_ITEMS, |e| {
                Ok(MenuItem {
                    name: e.field("Name"),
                    url: e.field("URL"),
                })
            })?;
            PhoneObject::Menu(Menu {
                title,
                prompt,
                items,
                soft_keys: soft_keys(root)?,
                truncated,
            })
        }
        "ciscoipphonetext" => PhoneObject::Text(Text {
            title,
            prompt,
            text: root.field("Text"),
            soft_keys: soft_keys(root)?,
        }),
        "ciscoipphonedirectory" => {
            let (entries, truncated) = capped(
                root.children("DirectoryEntry"),
                MAX_DIRECTORY_ENTRIES,
                |e| {
                    Ok(DirectoryEntry {
                        name: e.field("Name"),
                        telephone: e.field("Telephone"),
                    })
                },
            )?;
            PhoneObject::Directory(Directory {
                title,
                prompt,
                entries,
                soft_keys: soft_keys(root)?,
                truncated,
            })
        }
        "ciscoipphoneinput" => {
            let url = root.field("URL");
            if url.is_empty() {
                // Nowhere to send the answers: the form would be a dead end.
                return Err(ParseError::Missing {
                    object: "CiscoIPPhoneInput",
                    element: "URL",
                });
            }
            let (items, truncated) = capped(root.children("InputItem"), MAX_INPUT_ITEMS, |e| {
                Ok(InputItem {
                    display_name: e.field("DisplayName"),
                    param: e.field("QueryStringParam"),
                    default_value: e.field("DefaultValue"),
                    flags: InputFlags::parse(e.child_text("InputFlags").unwrap_or_default()),
                })
            })?;
            PhoneObject::Input(Input {
                title,
                prompt,
                url,
                items,
                soft_keys: soft_keys(root)?,
                truncated,
            })
        }
        "ciscoipphoneimage" => PhoneObject::Image(image(root, title, prompt)?),
        "ciscoipphoneerror" => PhoneObject::Error(PhoneError {
            number: match root.attribute("Number") {
                Some(n) => number("Number", n)?,
                None => 0,
            },
            message: root.text.trim().to_string(),
        }),
        "ciscoipphoneresponse" => PhoneObject::Response(Response {
            items: root
                .children("ResponseItem")
                .map(|e| {
                    Ok(ResponseItem {
                        status: number("Status", e.attribute("Status").unwrap_or("0"))?,
                        data: e.attribute("Data").unwrap_or_default().to_string(),
                        url: e.attribute("URL").unwrap_or_default().to_string(),
                    })
                })
                .collect::<Result<_, ParseError>>()?,
        }),
        // check_root let nothing else through.
        _ => return Err(ParseError::UnknownRoot(root.name.clone())),
    })
}

/// Maps at most `max` elements; the flag says whether more were dropped.
fn capped<'a, T>(
    elements: impl Iterator<Item = &'a Element>,
    max: usize,
    map: impl Fn(&Element) -> Result<T, ParseError>,
) -> Result<(Vec<T>, bool), ParseError> {
    let mut elements = elements.peekable();
    let items = elements
        .by_ref()
        .take(max)
        .map(map)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, elements.peek().is_some()))
}

fn soft_keys(root: &Element) -> Result<Vec<SoftKey>, ParseError> {
    root.children("SoftKeyItem")
        .map(|e| {
            Ok(SoftKey {
                name: e.field("Name"),
                url: e.field("URL"),
                url_down: e.child_text("URLDown").map(str::to_string),
                position: e
                    .child_text("Position")
                    .map(|p| number("Position", p))
                    .transpose()?,
            })
        })
        .collect()
}

fn image(root: &Element, title: String, prompt: String) -> Result<Image, ParseError> {
    let required = |element: &'static str| {
        root.child_text(element).ok_or(ParseError::Missing {
            object: "CiscoIPPhoneImage",
            element,
        })
    };
    let optional = |element: &'static str, default: &'static str| {
        root.child_text(element)
            .filter(|v| !v.is_empty())
            .unwrap_or(default)
    };
    let width = number("Width", required("Width")?)?;
    let height = number("Height", required("Height")?)?;
    let depth = number("Depth", optional("Depth", "2"))?;
    Ok(Image {
        title,
        prompt,
        x: number("LocationX", optional("LocationX", "0"))?,
        y: number("LocationY", optional("LocationY", "0"))?,
        width,
        height,
        depth,
        pixels: decode_pixels(optional("Data", ""), width, height, depth)?,
        soft_keys: soft_keys(root)?,
    })
}

fn number<T: std::str::FromStr>(element: &'static str, value: &str) -> Result<T, ParseError> {
    value.trim().parse().map_err(|_| ParseError::BadNumber {
        element,
        value: value.to_string(),
    })
}
