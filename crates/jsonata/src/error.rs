//! Errors: JSONata's error codes (`S0xxx` static, `T0xxx` type, `D0xxx` dynamic) with the
//! character offset they point at, and JSONata's message for each code.

/// A JSONata error: parsing (`S…`) or evaluating (`T…`, `D…`) an expression.
///
/// [`Error::code`] is JSONata's code, stable and low-cardinality; [`Error::position`] is the
/// character offset (in `char`s, counted from 0) just past the token the error is about, as
/// jsonata-js reports it. Conditions JSONata has no code for use codes from a range it leaves
/// free: `S0299` (expression nested too deeply to parse) and `D1099` (the result is not JSON).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct Error(Box<Inner>);

#[derive(Debug, Clone, PartialEq)]
struct Inner {
    code: &'static str,
    position: Option<usize>,
    token: Option<String>,
    value: Option<String>,
    value2: Option<String>,
    detail: Option<String>,
}

/// The error [`crate::Expression::parse`] returns (codes `S0xxx`).
pub type ParseError = Error;
/// The error [`crate::Expression::evaluate`] returns (codes `T0xxx`, `D0xxx`).
pub type EvalError = Error;

impl Error {
    pub(crate) fn new(code: &'static str) -> Self {
        Self(Box::new(Inner {
            code,
            position: None,
            token: None,
            value: None,
            value2: None,
            detail: None,
        }))
    }

    pub(crate) fn at(mut self, position: usize) -> Self {
        self.0.position = Some(position);
        self
    }

    /// Sets the position unless one is already known (the innermost position wins).
    pub(crate) fn or_at(mut self, position: usize) -> Self {
        if self.0.position.is_none() {
            self.0.position = Some(position);
        }
        self
    }

    pub(crate) fn token(mut self, token: impl Into<String>) -> Self {
        self.0.token = Some(token.into());
        self
    }

    pub(crate) fn or_token(mut self, token: impl Into<String>) -> Self {
        if self.0.token.is_none() {
            self.0.token = Some(token.into());
        }
        self
    }

    pub(crate) fn value(mut self, value: impl Into<String>) -> Self {
        self.0.value = Some(value.into());
        self
    }

    pub(crate) fn value2(mut self, value: impl Into<String>) -> Self {
        self.0.value2 = Some(value.into());
        self
    }

    pub(crate) fn detail(mut self, detail: impl Into<String>) -> Self {
        self.0.detail = Some(detail.into());
        self
    }

    /// JSONata's error code, e.g. `"T2001"`.
    pub fn code(&self) -> &'static str {
        self.0.code
    }

    /// Character offset just past the offending token, when known.
    pub fn position(&self) -> Option<usize> {
        self.0.position
    }

    /// The offending token (operator, function name, ...), when known.
    pub fn token_text(&self) -> Option<&str> {
        self.0.token.as_deref()
    }

    /// True for errors raised while parsing (codes `S…`).
    pub fn is_static(&self) -> bool {
        self.0.code.starts_with('S')
    }

    /// JSONata's message for this code with its inserts filled in.
    pub fn message(&self) -> String {
        let token = self.0.token.as_deref().unwrap_or("");
        let value = self.0.value.as_deref().unwrap_or("");
        let value2 = self.0.value2.as_deref().unwrap_or("");
        let detail = self.0.detail.as_deref().unwrap_or("");
        match self.0.code {
            "S0101" => "String literal must be terminated by a matching quote".into(),
            "S0102" => format!("Number out of range: {token}"),
            "S0103" => format!("Unsupported escape sequence: \\{token}"),
            "S0104" => "The escape sequence \\u must be followed by 4 hex digits".into(),
            "S0105" => "Quoted property name must be terminated with a backquote (`)".into(),
            "S0106" => "Comment has no closing tag".into(),
            "S0201" => format!("Syntax error: {token}"),
            "S0202" => format!("Expected {value}, got {token}"),
            "S0203" => format!("Expected {value} before end of expression"),
            "S0204" => format!("Unknown operator: {token}"),
            "S0205" => format!("Unexpected token: {token}"),
            "S0206" => format!("Unknown expression type: {token}"),
            "S0207" => "Unexpected end of expression".into(),
            "S0208" => {
                format!("Parameter {value} of function definition must be a variable name (start with $)")
            }
            "S0209" => "A predicate cannot follow a grouping expression in a step".into(),
            "S0210" => "Each step can only have one grouping expression".into(),
            "S0211" => format!("The symbol {token} cannot be used as a unary operator"),
            "S0212" => "The left side of := must be a variable name (start with $)".into(),
            "S0213" => {
                format!("The literal value {value} cannot be used as a step within a path expression")
            }
            "S0214" => format!("The right side of {token} must be a variable name (start with $)"),
            "S0215" => "A context variable binding must precede any predicates on a step".into(),
            "S0216" => {
                "A context variable binding must precede the 'order-by' clause on a step".into()
            }
            "S0217" => {
                format!("The object representing the 'parent' cannot be derived from this expression ({token})")
            }
            "S0299" => format!("The expression is nested too deeply to parse: {detail}"),
            "S0301" => "Empty regular expressions are not allowed".into(),
            "S0302" => "No terminating / in regular expression".into(),
            "S0303" => format!("Invalid or unsupported regular expression: {detail}"),
            "S0401" => "Type parameters can only be applied to functions and arrays".into(),
            "S0402" => "Choice groups containing parameterized types are not supported".into(),
            "T0410" => format!("Argument {value2} of function {token} does not match function signature"),
            "T0411" => format!(
                "Context value is not a compatible type with argument {value2} of function {token}"
            ),
            "T0412" => format!("Argument {value2} of function {token} must be an array of {detail}"),
            "D1001" => format!("Number out of range: {value}"),
            "D1002" => format!("Cannot negate a non-numeric value: {value}"),
            "T1003" => format!("Key in object structure must evaluate to a string; got: {value}"),
            "D1004" => "Regular expression matches zero length string".into(),
            "T1005" => format!("Attempted to invoke a non-function. Did you mean ${token}?"),
            "T1006" => "Attempted to invoke a non-function".into(),
            "T1007" => format!("Attempted to partially apply a non-function. Did you mean ${token}?"),
            "T1008" => "Attempted to partially apply a non-function".into(),
            "D1009" => format!("Multiple key definitions evaluate to same key: {value}"),
            "T1010" => format!(
                "The matcher function argument passed to function {token} does not return the correct object structure"
            ),
            "D1011" => format!(
                "Stack overflow: evaluation nested deeper than {value}. Check for non-terminating recursive function.  Consider rewriting as tail-recursive"
            ),
            "D1012" => format!(
                "Evaluation budget of {value} steps exhausted. Check for infinite loop"
            ),
            "D1099" => format!("The result cannot be represented as JSON: {detail}"),
            "T2001" => format!("The left side of the {token} operator must evaluate to a number"),
            "T2002" => format!("The right side of the {token} operator must evaluate to a number"),
            "T2003" => "The left side of the range operator (..) must evaluate to an integer".into(),
            "T2004" => "The right side of the range operator (..) must evaluate to an integer".into(),
            "T2006" => "The right side of the function application operator ~> must be a function".into(),
            "T2007" => format!(
                "Type mismatch when comparing values {value} and {value2} in order-by clause"
            ),
            "T2008" => {
                "The expressions within an order-by clause must evaluate to numeric or string values"
                    .into()
            }
            "T2009" => format!(
                "The values {value} and {value2} either side of operator {token} must be of the same data type"
            ),
            "T2010" => format!(
                "The expressions either side of operator {token} must evaluate to numeric or string values"
            ),
            "T2011" => format!(
                "The insert/update clause of the transform expression must evaluate to an object: {value}"
            ),
            "T2012" => format!(
                "The delete clause of the transform expression must evaluate to a string or array of strings: {value}"
            ),
            "T2013" => "The transform expression clones the input object using the $clone() function.  This has been overridden in the current scope by a non-function.".into(),
            "D2014" => format!(
                "The size of the sequence allocated by the range operator (..) must not exceed {detail}.  Attempted to allocate {value}."
            ),
            "D3001" => "Attempting to invoke string function on Infinity or NaN".into(),
            "D3010" => "Second argument of replace function cannot be an empty string".into(),
            "D3011" => "Fourth argument of replace function must evaluate to a positive number".into(),
            "D3012" => "Attempted to replace a matched string with a non-string value".into(),
            "D3020" => "Third argument of split function must evaluate to a positive number".into(),
            "D3030" => format!("Unable to cast value to a number: {value}"),
            "D3040" => "Third argument of match function must evaluate to a positive number".into(),
            "D3050" => {
                "The second argument of reduce function must be a function with at least two arguments"
                    .into()
            }
            "D3060" => format!("The sqrt function cannot be applied to a negative number: {value}"),
            "D3061" => format!(
                "The power function has resulted in a value that cannot be represented as a JSON number: base={value}, exponent={value2}"
            ),
            "D3070" => "The single argument form of the sort function can only be applied to an array of strings or an array of numbers.  Use the second argument to specify a comparison function".into(),
            "D3080" => "The picture string must only contain a maximum of two sub-pictures".into(),
            "D3081" => "The sub-picture must not contain more than one instance of the 'decimal-separator' character".into(),
            "D3082" => "The sub-picture must not contain more than one instance of the 'percent' character".into(),
            "D3083" => "The sub-picture must not contain more than one instance of the 'per-mille' character".into(),
            "D3084" => "The sub-picture must not contain both a 'percent' and a 'per-mille' character".into(),
            "D3085" => "The mantissa part of a sub-picture must contain at least one character that is either an 'optional digit character' or a member of the 'decimal digit family'".into(),
            "D3086" => "The sub-picture must not contain a passive character that is preceded by an active character and that is followed by another active character".into(),
            "D3087" => "The sub-picture must not contain a 'grouping-separator' character that appears adjacent to a 'decimal-separator' character".into(),
            "D3088" => "The sub-picture must not contain a 'grouping-separator' at the end of the integer part".into(),
            "D3089" => "The sub-picture must not contain two adjacent instances of the 'grouping-separator' character".into(),
            "D3090" => "The integer part of the sub-picture must not contain a member of the 'decimal digit family' that is followed by an instance of the 'optional digit character'".into(),
            "D3091" => "The fractional part of the sub-picture must not contain an instance of the 'optional digit character' that is followed by a member of the 'decimal digit family'".into(),
            "D3092" => "A sub-picture that contains a 'percent' or 'per-mille' character must not contain a character treated as an 'exponent-separator'".into(),
            "D3093" => "The exponent part of the sub-picture must comprise only of one or more characters that are members of the 'decimal digit family'".into(),
            "D3100" => format!("The radix of the formatBase function must be between 2 and 36.  It was given {value}"),
            "D3110" => format!("The argument of the toMillis function must be an ISO 8601 formatted timestamp. Given {value}"),
            "D3120" => format!("Syntax error in expression passed to function eval: {detail}"),
            "D3121" => format!("Dynamic error evaluating the expression passed to function eval: {detail}"),
            "D3130" => format!("Formatting or parsing an integer as a sequence starting with {value} is not supported by this implementation"),
            "D3131" => "In a decimal digit pattern, all digits must be from the same decimal group".into(),
            "D3132" => format!("Unknown component specifier {value} in date/time picture string"),
            "D3133" => format!("The 'name' modifier can only be applied to months and days in the date/time picture string, not {value}"),
            "D3134" => "The timezone integer format specifier cannot have more than four digits".into(),
            "D3135" => "No matching closing bracket ']' in date/time picture string".into(),
            "D3136" => "The date/time picture string is missing specifiers required to parse the timestamp".into(),
            "D3137" => detail.to_string(),
            "D3138" => "The $single() function expected exactly 1 matching result.  Instead it matched more.".into(),
            "D3139" => "The $single() function expected exactly 1 matching result.  Instead it matched 0.".into(),
            "D3140" => format!("Malformed URL passed to ${token}(): {value}"),
            "D3141" => detail.to_string(),
            _ => {
                if detail.is_empty() {
                    format!("JSONata error {}", self.0.code)
                } else {
                    detail.to_string()
                }
            }
        }
    }
}

impl Error {
    fn describe(&self) -> String {
        match self.0.position {
            Some(position) => format!("{}: {} (at {position})", self.0.code, self.message()),
            None => format!("{}: {}", self.0.code, self.message()),
        }
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;
