//! The phone XML objects of `services_url` and `directory_url`, and fetching
//! them over HTTP.
//!
//! A Cisco 7940/7960 fetches `services_url` when the Services key is pressed
//! and `directory_url` for the external directory, through the HTTP proxy of
//! `http_proxy_addr`/`http_proxy_port` when one is set, and shows what comes
//! back: a Cisco IP Phone Services XML object. Links in it lead to more
//! objects. This crate turns those bytes into data the UI can draw; it draws
//! nothing and keeps no navigation state.
//!
//! # Design
//!
//! Three pure parts and one thin shell:
//!
//! - [`parse`]: bytes in, [`PhoneObject`] out. No I/O, no clock; the same
//!   bytes always give the same result, so the tests are plain documents.
//!   Forgiving the way the phones were (unknown elements ignored, names in any
//!   case, text trimmed, entities decoded but a bare `&` kept, ISO-8859-1 and
//!   Windows-1252 accepted) and strict where a guess would show garbage
//!   (not XML, unknown root, broken nesting, bad numbers, image data of the
//!   wrong length). Lists are cut at the phones' limits:
//!   [`MAX_MENU_ITEMS`], [`MAX_DIRECTORY_ENTRIES`], [`MAX_INPUT_ITEMS`].
//! - [`decode_pixels`]: the packed 2-bit `Data` of `CiscoIPPhoneImage` to a
//!   greyscale buffer; its documentation gives the bit order and grey levels.
//! - Links: [`resolve_target`] tells web links from the phone's internal URIs
//!   (`SoftKey:Exit`, `Dial:1234`) and resolves relative ones;
//!   [`input_query`] builds the GET URL an input form submits to.
//! - [`fetch`]: one blocking HTTP GET with `ureq`, body capped at
//!   [`MAX_DOCUMENT_BYTES`], then [`parse`], then every relative link made
//!   absolute against the final URL. Errors name the host or the URL:
//!   `cannot reach host:port: ...`, `HTTP 404 from ...`,
//!   `not a phone XML object: ...`.
//!
//! Through a proxy a plain `http://` request goes out in absolute form
//! (`GET http://host/path HTTP/1.1`), never as a `CONNECT` tunnel, which many
//! proxies allow only to port 443.
//!
//! # Example
//!
//! ```
//! use deskphone_xmlapps::{parse, PhoneObject};
//!
//! let doc = br#"<CiscoIPPhoneMenu>
//!   <Title>Services</Title>
//!   <MenuItem><Name>Weather</Name><URL>http://10.0.0.5/weather.xml</URL></MenuItem>
//! </CiscoIPPhoneMenu>"#;
//! let PhoneObject::Menu(menu) = parse(doc)? else { unreachable!() };
//! assert_eq!(menu.items[0].name, "Weather");
//! # Ok::<(), deskphone_xmlapps::ParseError>(())
//! ```

mod fetch;
mod image;
mod link;
mod object;
mod parse;
mod text;

pub use fetch::{fetch, fetch_bytes, FetchError, ProxyConfig};
pub use image::{decode_pixels, ImageError};
pub use link::{input_query, resolve_target, LinkError, Target};
pub use object::*;
pub use parse::{parse, ParseError};

/// Largest document accepted, in bytes (over the wire and to [`parse`]).
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// Most `MenuItem`s shown; the services notes give 100 for Cisco phones.
pub const MAX_MENU_ITEMS: usize = 100;

/// Most `DirectoryEntry`s shown: the 7940/7960 showed 32 per page, and
/// directory services page their results by 32 with a Next soft key.
pub const MAX_DIRECTORY_ENTRIES: usize = 32;

/// Most `InputItem`s in one form; the services notes say no more than five.
pub const MAX_INPUT_ITEMS: usize = 5;
