//! `fetch` against real HTTP servers on loopback: Python's `http.server`
//! serving a temp dir, and small in-test TCP servers where a behaviour must be
//! forced (a proxy that records the request line, a server that never answers).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use deskphone_xmlapps::*;

const TIMEOUT: Duration = Duration::from_secs(5);

/// `python3 -m http.server` on 127.0.0.1, a free port, serving `dir`.
struct PythonServer {
    child: Child,
    port: u16,
}

impl PythonServer {
    fn start(dir: &Path) -> PythonServer {
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        PythonServer { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn site() -> (tempfile::TempDir, PythonServer) {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &[u8]| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    };
    write(
        "svc/services.xml",
        br#"<?xml version="1.0"?>
<CiscoIPPhoneMenu><Title>Services</Title>
<MenuItem><Name>Weather</Name><URL>weather.xml</URL></MenuItem>
<MenuItem><Name>Directory</Name><URL>/dir/search.xml</URL></MenuItem>
<SoftKeyItem><Name>Exit</Name><URL>SoftKey:Exit</URL><Position>3</Position></SoftKeyItem>
</CiscoIPPhoneMenu>"#,
    );
    write(
        "svc/weather.xml",
        b"<CiscoIPPhoneText><Title>Weather</Title><Text>Sunny, 21 C</Text></CiscoIPPhoneText>",
    );
    write(
        "svc/broken.html",
        b"<html><body><h1>It works!</h1></body></html>",
    );
    let mut big = b"<CiscoIPPhoneText><Text>".to_vec();
    big.resize(MAX_DOCUMENT_BYTES + 100, b'x');
    big.extend_from_slice(b"</Text></CiscoIPPhoneText>");
    write("svc/big.xml", &big);
    let server = PythonServer::start(dir.path());
    (dir, server)
}

#[test]
fn fetches_and_resolves_links_against_the_document_url() {
    let (_dir, server) = site();
    let object = fetch(&server.url("svc/services.xml"), None, TIMEOUT).unwrap();
    let PhoneObject::Menu(menu) = object else {
        panic!("not a menu: {object:?}")
    };
    assert_eq!(menu.title, "Services");
    assert_eq!(menu.items[0].url, server.url("svc/weather.xml"));
    assert_eq!(menu.items[1].url, server.url("dir/search.xml"));
    assert_eq!(menu.soft_keys[0].url, "SoftKey:Exit");

    // Following a resolved link works as is.
    let PhoneObject::Text(text) = fetch(&menu.items[0].url, None, TIMEOUT).unwrap() else {
        panic!()
    };
    assert_eq!(text.text, "Sunny, 21 C");
}

#[test]
fn http_errors_name_the_status_and_url() {
    let (_dir, server) = site();
    let url = server.url("svc/missing.xml");
    let err = fetch(&url, None, TIMEOUT).unwrap_err();
    assert!(
        matches!(err, FetchError::Status { code: 404, .. }),
        "{err:?}"
    );
    assert_eq!(err.to_string(), format!("HTTP 404 from {url}"));
}

#[test]
fn a_page_that_is_not_a_phone_object_says_so() {
    let (_dir, server) = site();
    let err = fetch(&server.url("svc/broken.html"), None, TIMEOUT).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "not a phone XML object: unknown root element <html> (from {})",
            server.url("svc/broken.html")
        )
    );
}

#[test]
fn oversize_body_is_refused() {
    let (_dir, server) = site();
    let err = fetch(&server.url("svc/big.xml"), None, TIMEOUT).unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err:?}");
}

/// A port with nothing listening: bind, note the port, close.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn unreachable_host_names_host_and_port() {
    let port = closed_port();
    let err = fetch(&format!("http://127.0.0.1:{port}/x.xml"), None, TIMEOUT).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("cannot reach 127.0.0.1:{port}: ")),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");
}

#[test]
fn unreachable_proxy_is_blamed_not_the_server() {
    let port = closed_port();
    let proxy = ProxyConfig {
        host: "127.0.0.1".into(),
        port,
    };
    let err = fetch("http://phone-services.invalid/x.xml", Some(&proxy), TIMEOUT).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("cannot reach HTTP proxy 127.0.0.1:{port}: ")),
        "{err}"
    );
}

#[test]
fn a_silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and read, never answer; the connection closes when the test ends.
    let _holder = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        thread::sleep(Duration::from_secs(3));
        drop(stream);
    });
    let started = std::time::Instant::now();
    let err = fetch(
        &format!("http://127.0.0.1:{port}/slow.xml"),
        None,
        Duration::from_millis(300),
    )
    .unwrap_err();
    assert!(matches!(err, FetchError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn bad_urls_are_refused_before_any_connection() {
    for (url, why) in [
        ("ftp://10.0.0.1/menu.xml", "ftp:// is not supported"),
        ("not a url", "relative URL without a base"),
    ] {
        let err = fetch(url, None, TIMEOUT).unwrap_err();
        assert!(matches!(err, FetchError::BadUrl { .. }), "{err:?}");
        assert!(err.to_string().contains(why), "{err}");
    }
    #[cfg(not(feature = "https"))]
    assert!(matches!(
        fetch("https://10.0.0.1/menu.xml", None, TIMEOUT),
        Err(FetchError::BadUrl { .. })
    ));
}

/// A forwarding HTTP proxy for one request: records the request line it got,
/// then sends the request on to the origin in origin-form and relays the answer.
fn one_shot_proxy() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (client, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(client.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        // Skip the headers: a GET has no body.
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header == "\r\n" || header.is_empty() {
                break;
            }
        }
        tx.send(request_line.trim_end().to_string()).unwrap();
        let target = request_line.split(' ').nth(1).unwrap();
        let rest = target
            .strip_prefix("http://")
            .expect("absolute-form target");
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let mut origin = TcpStream::connect(authority).unwrap();
        write!(
            origin,
            "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = Vec::new();
        origin.read_to_end(&mut answer).unwrap();
        let mut client = client;
        client.write_all(&answer).unwrap();
        client.shutdown(Shutdown::Both).unwrap();
    });
    (port, rx)
}

#[test]
fn through_a_proxy_the_request_is_in_absolute_form() {
    let (_dir, server) = site();
    let (proxy_port, request_lines) = one_shot_proxy();
    let proxy = ProxyConfig {
        host: "127.0.0.1".into(),
        port: proxy_port,
    };
    let url = server.url("svc/weather.xml?units=metric");
    let object = fetch(&url, Some(&proxy), TIMEOUT).unwrap();

    let line = request_lines.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(line, format!("GET {url} HTTP/1.1"));
    let PhoneObject::Text(text) = object else {
        panic!("not text: {object:?}")
    };
    assert_eq!(text.title, "Weather");
}
