//! How an operation travels over HTTP, as the service model says (`http` of the operation,
//! `location`/`locationName` of its members, the structure's `payload`). The code generator
//! emits one [`Binding`] per operation; [`crate::rest`] decodes REST requests with them.

/// Where a member travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A `{label}` of the URI template (`{label+}`: greedy, may hold `/`).
    Uri,
    /// A query string parameter.
    Querystring,
    /// One header.
    Header,
    /// Every header starting with the name (a map of the rest of the name to the value).
    Headers,
    /// The response's HTTP status (outputs only).
    StatusCode,
    /// The whole body: a blob or string as is, a structure as the body's document.
    Payload,
    /// A member of the body's document (JSON object / XML element / form field).
    Body,
}

/// One member's place on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberBinding {
    /// The member's name in the model (and in the generated structs).
    pub member: &'static str,
    pub location: Location,
    /// The name on the wire (`locationName`, else the member's name): the label, the query key,
    /// the header (prefix), the body member.
    pub name: &'static str,
}

/// An operation's HTTP binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// The operation's name.
    pub operation: &'static str,
    pub method: &'static str,
    /// The request URI template (`/2015-03-31/functions/{FunctionName}`; a `?key` part names
    /// query parameters the request must carry, as S3's `/{Bucket}?acl`).
    pub uri: &'static str,
    /// The success status.
    pub status: u16,
    /// The input's members, in model order.
    pub input: &'static [MemberBinding],
    /// The output's members, in model order.
    pub output: &'static [MemberBinding],
}

impl Binding {
    /// The input member carried in `location`, if any (e.g. the payload).
    pub fn input_at(&self, location: Location) -> impl Iterator<Item = &MemberBinding> {
        self.input.iter().filter(move |m| m.location == location)
    }
}

/// An error the model declares: its name, the code the protocol sends (query protocols and
/// `awsQueryCompatible` services have their own), its HTTP status, who is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorShape {
    pub name: &'static str,
    pub code: &'static str,
    pub status: u16,
    pub sender_fault: bool,
    /// The member the message travels in: `Message` or `message`, as the model spells it.
    pub message_member: &'static str,
    /// Whether the error has a `Type` member (REST-JSON services such as Lambda send
    /// `"Type": "User"` or `"Service"` in it).
    pub has_type: bool,
}
