//! Runs dtc and reads what `dtc -I dtb -O dts` prints back: enough of the DTS syntax for
//! decompiled overlays (nodes, properties of cells, strings and bytes; no labels, includes
//! or expressions, which decompiled output never has).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `name;`
    Empty,
    /// `<0x1 0x2>, <0x3>`: all the cells, in order.
    Cells(Vec<u32>),
    /// `"a\0b"` or `"a", "b"`.
    Strings(Vec<String>),
    /// `[01 02]`
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone, Default)]
pub struct Node {
    pub props: BTreeMap<String, Value>,
    /// In the order of the file.
    pub children: Vec<(String, Node)>,
}

impl Node {
    /// The node at `path` (`/fragment@1/__overlay__/deskphone-keypad`).
    pub fn at(&self, path: &str) -> &Node {
        let mut node = self;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            node = node
                .child(part)
                .unwrap_or_else(|| panic!("no node {part:?} on the way to {path}"));
        }
        node
    }

    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c)
    }

    pub fn has(&self, prop: &str) -> bool {
        self.props.contains_key(prop)
    }

    pub fn cells(&self, prop: &str) -> Vec<u32> {
        match self.props.get(prop) {
            Some(Value::Cells(c)) => c.clone(),
            other => panic!("{prop} is not cells: {other:?}"),
        }
    }

    pub fn cell(&self, prop: &str) -> u32 {
        match self.cells(prop)[..] {
            [one] => one,
            ref many => panic!("{prop} has {} cells, not one", many.len()),
        }
    }

    pub fn strings(&self, prop: &str) -> Vec<String> {
        match self.props.get(prop) {
            Some(Value::Strings(s)) => s.clone(),
            other => panic!("{prop} is not a string: {other:?}"),
        }
    }

    pub fn string(&self, prop: &str) -> String {
        match &self.strings(prop)[..] {
            [one] => one.clone(),
            many => panic!("{prop} has {} strings, not one", many.len()),
        }
    }

    /// Every node below this one with its path (relative, starting with `/`).
    pub fn walk(&self) -> Vec<(String, &Node)> {
        let mut out = Vec::new();
        for (name, child) in &self.children {
            let path = format!("/{name}");
            for (sub, node) in child.walk() {
                out.push((format!("{path}{sub}"), node));
            }
            out.push((path, child));
        }
        out
    }
}

/// Compiles `dts` into `dtbo` with `dtc -@`; returns dtc's stderr (warnings), failing on
/// an error.
pub fn compile(dts: &Path, dtbo: &Path) -> String {
    let out = Command::new("dtc")
        .args(["-@", "-I", "dts", "-O", "dtb", "-o"])
        .arg(dtbo)
        .arg(dts)
        .output()
        .expect("dtc runs (Debian: device-tree-compiler)");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "dtc {}: {stderr}", dts.display());
    stderr
}

/// `dtc -I dtb -O dts` of `dtbo`, parsed.
pub fn decompile(dtbo: &Path) -> Node {
    let out = Command::new("dtc")
        .args(["-I", "dtb", "-O", "dts"])
        .arg(dtbo)
        .output()
        .expect("dtc runs");
    assert!(
        out.status.success(),
        "dtc -I dtb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse(&String::from_utf8(out.stdout).expect("dtc prints UTF-8"))
}

pub fn parse(text: &str) -> Node {
    let body = text
        .trim_start()
        .strip_prefix("/dts-v1/;")
        .expect("decompiled DTS starts with /dts-v1/;");
    let mut p = Parser {
        s: body.as_bytes(),
        i: 0,
    };
    p.skip_space();
    let name = p.name();
    assert_eq!(name, "/", "the root node first");
    p.expect(b'{');
    let root = p.node_body();
    p.expect(b';');
    p.skip_space();
    assert_eq!(p.i, p.s.len(), "text after the root node");
    root
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> u8 {
        self.skip_space();
        *self.s.get(self.i).expect("unexpected end of the DTS")
    }

    fn expect(&mut self, c: u8) {
        let got = self.peek();
        assert_eq!(
            got as char,
            c as char,
            "at byte {} of the DTS: {:?}",
            self.i,
            String::from_utf8_lossy(&self.s[self.i..(self.i + 40).min(self.s.len())])
        );
        self.i += 1;
    }

    /// A node or property name: up to a space or one of `{ = ;`.
    fn name(&mut self) -> String {
        self.skip_space();
        let start = self.i;
        while self.i < self.s.len()
            && !self.s[self.i].is_ascii_whitespace()
            && !b"{=;".contains(&self.s[self.i])
        {
            self.i += 1;
        }
        assert!(self.i > start, "a name expected at byte {start}");
        String::from_utf8(self.s[start..self.i].to_vec()).unwrap()
    }

    /// After `{`: properties and child nodes up to the closing `}`.
    fn node_body(&mut self) -> Node {
        let mut node = Node::default();
        loop {
            if self.peek() == b'}' {
                self.i += 1;
                return node;
            }
            let name = self.name();
            match self.peek() {
                b'{' => {
                    self.i += 1;
                    let child = self.node_body();
                    self.expect(b';');
                    node.children.push((name, child));
                }
                b';' => {
                    self.i += 1;
                    node.props.insert(name, Value::Empty);
                }
                b'=' => {
                    self.i += 1;
                    let value = self.value();
                    node.props.insert(name, value);
                }
                other => panic!("unexpected {:?} after {name}", other as char),
            }
        }
    }

    /// After `=`: one or more comma-separated pieces of one kind, up to `;`.
    fn value(&mut self) -> Value {
        let mut value: Option<Value> = None;
        loop {
            let piece = match self.peek() {
                b'<' => Value::Cells(self.cells()),
                b'"' => Value::Strings(self.string().split('\0').map(String::from).collect()),
                b'[' => Value::Bytes(self.bytes()),
                other => panic!("unexpected {:?} in a value", other as char),
            };
            value = Some(match (value, piece) {
                (None, p) => p,
                (Some(Value::Cells(mut a)), Value::Cells(b)) => {
                    a.extend(b);
                    Value::Cells(a)
                }
                (Some(Value::Strings(mut a)), Value::Strings(b)) => {
                    a.extend(b);
                    Value::Strings(a)
                }
                (a, b) => panic!("mixed value {a:?}, {b:?}"),
            });
            match self.peek() {
                b',' => self.i += 1,
                b';' => {
                    self.i += 1;
                    return value.unwrap();
                }
                other => panic!("unexpected {:?} after a value", other as char),
            }
        }
    }

    fn cells(&mut self) -> Vec<u32> {
        self.expect(b'<');
        let mut cells = Vec::new();
        loop {
            if self.peek() == b'>' {
                self.i += 1;
                return cells;
            }
            let start = self.i;
            while !self.s[self.i].is_ascii_whitespace() && self.s[self.i] != b'>' {
                self.i += 1;
            }
            let word = std::str::from_utf8(&self.s[start..self.i]).unwrap();
            let cell = match word.strip_prefix("0x") {
                Some(hex) => u32::from_str_radix(hex, 16),
                None => word.parse(),
            };
            cells.push(cell.unwrap_or_else(|_| panic!("not a cell: {word:?}")));
        }
    }

    fn string(&mut self) -> String {
        self.expect(b'"');
        let mut out = String::new();
        loop {
            let c = self.s[self.i];
            self.i += 1;
            match c {
                b'"' => return out,
                b'\\' => {
                    let e = self.s[self.i];
                    self.i += 1;
                    out.push(match e {
                        b'0' => '\0',
                        b'n' => '\n',
                        b't' => '\t',
                        other => other as char,
                    });
                }
                other => out.push(other as char),
            }
        }
    }

    fn bytes(&mut self) -> Vec<u8> {
        self.expect(b'[');
        let end = self.i + self.s[self.i..].iter().position(|&c| c == b']').unwrap();
        let text = std::str::from_utf8(&self.s[self.i..end]).unwrap();
        self.i = end + 1;
        text.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }
}

#[test]
fn reads_decompiled_syntax() {
    let tree = parse(
        "/dts-v1/;\n\n/ {\n\tcompatible = \"a,b\\0c\";\n\tx = <0x01 0x02>, <0x03>;\n\
         \tflag;\n\tb = [0a ff];\n\n\tchild@1 {\n\t\tlinux,code = <0x10>;\n\t};\n};\n",
    );
    assert_eq!(tree.strings("compatible"), ["a,b", "c"]);
    assert_eq!(tree.cells("x"), [1, 2, 3]);
    assert!(tree.has("flag"));
    assert_eq!(tree.props["b"], Value::Bytes(vec![0x0a, 0xff]));
    assert_eq!(tree.at("/child@1").cell("linux,code"), 0x10);
    assert_eq!(tree.walk().len(), 1);
}
