//! A minimal blocking HTTP/1.1 client for the AWS JSON 1.0 protocol: one persistent
//! connection, one request in flight, `Content-Length` and chunked responses.
//!
//! The bench drives closed-loop clients, one OS thread and one connection each, so a blocking
//! client is the cheapest way to keep the load generator's CPU small beside the server it
//! shares the box with. A server that closes the connection (`Connection: close`, as moto's
//! werkzeug server does after every response) is reconnected to transparently; reconnections
//! are counted so the report can say so.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context as _, bail};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// Any signature is accepted by sluice and moto; moto reads the service (`states`) from the
/// credential scope to route the request.
const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDSLUICEBENCH/20260101/us-east-1/states/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000";
const AMZ_DATE: &str = "20260101T000000Z";
/// Longest response body accepted (a guard against a misbehaving server).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Where requests go: a socket address and the `Host` header naming it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub host: String,
}

impl Endpoint {
    /// Parses `http://host:port[/]` (the scheme may be omitted; the port defaults to 80).
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("https://") {
            bail!("--endpoint {url}: https is not supported by the bench client; use http://");
        }
        let rest = url.strip_prefix("http://").unwrap_or(url);
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            bail!("--endpoint {url}: expected http://host:port");
        }
        let with_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .with_context(|| format!("--endpoint {url}: cannot resolve {with_port}"))?
            .next()
            .with_context(|| format!("--endpoint {url}: {with_port} resolves to no address"))?;
        Ok(Self {
            addr,
            host: authority.to_string(),
        })
    }

    pub fn local(addr: SocketAddr) -> Self {
        Self {
            addr,
            host: addr.to_string(),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }
}

/// A response: status code and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One persistent connection to an endpoint.
pub struct Connection {
    endpoint: Endpoint,
    stream: Option<BufReader<TcpStream>>,
    request: Vec<u8>,
    line: Vec<u8>,
    /// Connections opened after the first one (the server closed the previous one, or an error
    /// broke it).
    pub reconnects: u64,
    opened: bool,
}

impl Connection {
    /// A connection that connects on first use.
    pub fn new(endpoint: &Endpoint) -> Self {
        Self {
            endpoint: endpoint.clone(),
            stream: None,
            request: Vec::with_capacity(4096),
            line: Vec::with_capacity(256),
            reconnects: 0,
            opened: false,
        }
    }

    /// `POST /` with `X-Amz-Target: AWSStepFunctions.<operation>` and a JSON body.
    pub fn call(&mut self, operation: &str, body: &[u8]) -> io::Result<Response> {
        self.request.clear();
        write!(
            self.request,
            "POST / HTTP/1.1\r\nHost: {}\r\nX-Amz-Target: AWSStepFunctions.{operation}\r\n\
             Content-Type: application/x-amz-json-1.0\r\nX-Amz-Date: {AMZ_DATE}\r\n\
             Authorization: {AUTHORIZATION}\r\nContent-Length: {}\r\n\r\n",
            self.endpoint.host,
            body.len()
        )?;
        self.request.extend_from_slice(body);
        self.send()
    }

    /// `POST /` with `X-Amz-Target: <target>` for `service` (the credential scope's, which
    /// moto routes by) and a JSON body.
    pub fn call_service(
        &mut self,
        service: &str,
        target: &str,
        body: &[u8],
    ) -> io::Result<Response> {
        self.call_json(service, target, "application/x-amz-json-1.0", body)
    }

    /// `POST /` with `X-Amz-Target: <target>` for `service`, a JSON body of `content_type`
    /// (`application/x-amz-json-1.1` for Kinesis).
    pub fn call_json(
        &mut self,
        service: &str,
        target: &str,
        content_type: &str,
        body: &[u8],
    ) -> io::Result<Response> {
        self.request.clear();
        let authorization = AUTHORIZATION.replace("/states/", &format!("/{service}/"));
        write!(
            self.request,
            "POST / HTTP/1.1\r\nHost: {}\r\nX-Amz-Target: {target}\r\n\
             Content-Type: {content_type}\r\nX-Amz-Date: {AMZ_DATE}\r\n\
             Authorization: {authorization}\r\nContent-Length: {}\r\n\r\n",
            self.endpoint.host,
            body.len()
        )?;
        self.request.extend_from_slice(body);
        self.send()
    }

    /// One JSON-protocol call of `operation` (`X-Amz-Target: <prefix>.<operation>`) to
    /// `service`: the answer's JSON (`null` when empty), or the operation with the HTTP status
    /// and body.
    pub fn json_operation(
        &mut self,
        service: &str,
        prefix: &str,
        content_type: &str,
        operation: &str,
        body: &[u8],
    ) -> Result<serde_json::Value, String> {
        let response = self
            .call_json(
                service,
                &format!("{prefix}.{operation}"),
                content_type,
                body,
            )
            .map_err(|e| format!("{operation}: {e}"))?;
        if response.status != 200 {
            return Err(format!(
                "{operation}: HTTP {} {}",
                response.status,
                super::one_line(&response.body)
            ));
        }
        if response.body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&response.body).map_err(|e| format!("{operation}: {e}"))
    }

    /// One query-protocol call (`Action=...` form body) to `service`, signed for it.
    pub fn call_form(&mut self, service: &str, body: &[u8]) -> io::Result<Response> {
        self.request.clear();
        let authorization = AUTHORIZATION.replace("/states/", &format!("/{service}/"));
        write!(
            self.request,
            "POST / HTTP/1.1\r\nHost: {}\r\n\
             Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n\
             X-Amz-Date: {AMZ_DATE}\r\nAuthorization: {authorization}\r\n\
             Content-Length: {}\r\n\r\n",
            self.endpoint.host,
            body.len()
        )?;
        self.request.extend_from_slice(body);
        self.send()
    }

    /// An S3 request (path-style), signed for `s3` with an unsigned payload.
    pub fn s3(&mut self, method: &str, path: &str, body: &[u8]) -> io::Result<Response> {
        self.request.clear();
        let authorization = AUTHORIZATION.replace("/states/", "/s3/");
        write!(
            self.request,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nX-Amz-Date: {AMZ_DATE}\r\n\
             x-amz-content-sha256: UNSIGNED-PAYLOAD\r\nAuthorization: {authorization}\r\n\
             Content-Length: {}\r\n\r\n",
            self.endpoint.host,
            body.len()
        )?;
        self.request.extend_from_slice(body);
        self.send()
    }

    /// Any request, for the endpoints around the API (`/moto-api/config`, `/health`).
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> io::Result<Response> {
        self.request.clear();
        write!(
            self.request,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\n\r\n",
            self.endpoint.host,
            body.len()
        )?;
        self.request.extend_from_slice(body);
        self.send()
    }

    fn send(&mut self) -> io::Result<Response> {
        let result = self.exchange();
        if result.is_err() {
            // Whatever state the stream is in, it cannot carry another request.
            self.stream = None;
        }
        result
    }

    fn exchange(&mut self) -> io::Result<Response> {
        if self.stream.is_none() {
            let stream = TcpStream::connect_timeout(&self.endpoint.addr, CONNECT_TIMEOUT)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(IO_TIMEOUT))?;
            stream.set_write_timeout(Some(IO_TIMEOUT))?;
            if self.opened {
                self.reconnects += 1;
            }
            self.opened = true;
            self.stream = Some(BufReader::with_capacity(64 * 1024, stream));
        }
        let Some(reader) = self.stream.as_mut() else {
            return Err(io::Error::other("no connection"));
        };
        reader.get_mut().write_all(&self.request)?;
        let (response, keep_alive) = read_response(reader, &mut self.line)?;
        if !keep_alive {
            self.stream = None;
        }
        Ok(response)
    }
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Reads one response; the flag says whether the connection may carry another request.
fn read_response(
    reader: &mut BufReader<TcpStream>,
    line: &mut Vec<u8>,
) -> io::Result<(Response, bool)> {
    let mut status;
    let mut http10;
    // Skip interim (1xx) responses.
    loop {
        read_line(reader, line)?;
        if line.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        let text = std::str::from_utf8(line).map_err(|_| invalid("non-UTF-8 status line"))?;
        let mut parts = text.split_ascii_whitespace();
        let version = parts.next().unwrap_or_default();
        http10 = version == "HTTP/1.0";
        status = parts
            .next()
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| invalid(format!("bad status line {text:?}")))?;
        if !(100..200).contains(&status) {
            break;
        }
        // Headers of the interim response.
        loop {
            read_line(reader, line)?;
            if line.is_empty() {
                break;
            }
        }
    }
    let mut content_length = None;
    let mut chunked = false;
    let mut keep_alive = !http10;
    loop {
        read_line(reader, line)?;
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = &line[..colon];
        let value = std::str::from_utf8(&line[colon + 1..])
            .unwrap_or_default()
            .trim();
        if name.eq_ignore_ascii_case(b"content-length") {
            content_length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| invalid(format!("bad Content-Length {value:?}")))?,
            );
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            let value = value.to_ascii_lowercase();
            if value.contains("close") {
                keep_alive = false;
            } else if value.contains("keep-alive") {
                keep_alive = true;
            }
        }
    }
    let mut body = Vec::new();
    if status == 204 || status == 304 {
        // No body.
    } else if chunked {
        loop {
            read_line(reader, line)?;
            let text = std::str::from_utf8(line).unwrap_or_default();
            let size = text.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| invalid(format!("bad chunk size {text:?}")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    read_line(reader, line)?;
                    if line.is_empty() {
                        break;
                    }
                }
                break;
            }
            if body.len() + size > MAX_BODY {
                return Err(invalid("response body too large"));
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            read_line(reader, line)?;
        }
    } else if let Some(length) = content_length {
        if length > MAX_BODY {
            return Err(invalid("response body too large"));
        }
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    } else {
        // Delimited by the end of the connection.
        reader.take(MAX_BODY as u64).read_to_end(&mut body)?;
        keep_alive = false;
    }
    Ok((Response { status, body }, keep_alive))
}

/// Reads one line without its `\r\n`; empty at the end of the headers (or of the stream).
fn read_line(reader: &mut BufReader<TcpStream>, line: &mut Vec<u8>) -> io::Result<()> {
    line.clear();
    let n = reader.by_ref().take(64 * 1024).read_until(b'\n', line)?;
    if n > 0 && line.last() != Some(&b'\n') {
        return Err(invalid("header line too long or truncated"));
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_with_and_without_scheme_and_port() {
        let e = Endpoint::parse("http://127.0.0.1:4566/").unwrap();
        assert_eq!(e.addr, "127.0.0.1:4566".parse().unwrap());
        assert_eq!(e.host, "127.0.0.1:4566");
        let e = Endpoint::parse("127.0.0.1:9").unwrap();
        assert_eq!(e.addr.port(), 9);
        let e = Endpoint::parse("http://127.0.0.1").unwrap();
        assert_eq!(e.addr.port(), 80);
        assert!(Endpoint::parse("https://127.0.0.1:1").is_err());
        assert!(Endpoint::parse("http://").is_err());
    }

    #[test]
    fn reads_content_length_chunked_and_close_delimited_responses() {
        use std::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let answers: [&[u8]; 3] = [
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
            ];
            let mut answers = answers.iter();
            // The first two on one connection, the third on a new one.
            for per_connection in [2, 1] {
                let (mut s, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(s.try_clone().unwrap());
                for _ in 0..per_connection {
                    let mut len = 0;
                    loop {
                        let mut l = String::new();
                        reader.read_line(&mut l).unwrap();
                        if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                        if l == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; len];
                    reader.read_exact(&mut body).unwrap();
                    s.write_all(answers.next().unwrap()).unwrap();
                }
            }
        });
        let mut c = Connection::new(&Endpoint::local(addr));
        let r = c.call("DescribeExecution", b"{}").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
        let r = c.call("DescribeExecution", b"{}").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (400, &b"abcde"[..]));
        let r = c.request("GET", "/health", "text/plain", b"").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"until the end"[..]));
        assert_eq!(c.reconnects, 1);
        server.join().unwrap();
    }
}
