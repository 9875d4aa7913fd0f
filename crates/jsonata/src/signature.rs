//! Function signatures (`<s-n?:s>`): parsed once into a pattern over the arguments' type
//! symbols, then used to validate (and fix up) the arguments of every call: a missing argument
//! marked `-` takes the context value, a non-array for an `a` parameter is wrapped.

use crate::error::{Error, Result};
use crate::value::{Value, describe};

#[derive(Debug, Clone)]
struct Param {
    /// Regex fragment: a character class over type symbols, plus a quantifier.
    regex: String,
    /// Symbols accepted from the context value (for `-`).
    context: Option<String>,
    ty: String,
    subtype: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Signature {
    params: Vec<Param>,
    /// The anchored pattern over type symbols, compiled only when the direct matcher cannot
    /// express it.
    pattern: String,
    regex: std::sync::OnceLock<Option<regex::Regex>>,
    /// The same pattern as `regex`, for the direct matcher (`None`: use the regex).
    simple: Option<Vec<Quantified>>,
}

/// One parameter as a quantified set of type symbols.
#[derive(Debug, Clone)]
struct Quantified {
    symbols: String,
    min: usize,
    max: usize,
    greedy: bool,
}

impl Quantified {
    fn from_regex(regex: &str) -> Option<Self> {
        let (symbols, quantifier) = if let Some(rest) = regex.strip_prefix('[') {
            let end = rest.find(']')?;
            (rest[..end].to_string(), &rest[end + 1..])
        } else {
            let mut chars = regex.chars();
            (chars.next()?.to_string(), chars.as_str())
        };
        let (min, max, greedy) = match quantifier {
            "" => (1, 1, true),
            "?" => (0, 1, true),
            "+" => (1, usize::MAX, true),
            "??" => (0, 1, false),
            _ => return None,
        };
        Some(Self {
            symbols,
            min,
            max,
            greedy,
        })
    }
}

/// Matches `supplied` against the parameters like the anchored regex would (greedy or lazy,
/// with backtracking), recording each parameter's span.
fn match_params(
    params: &[Quantified],
    supplied: &[char],
    at: usize,
    spans: &mut Vec<(usize, usize)>,
) -> bool {
    let Some((first, rest)) = params.split_first() else {
        return at == supplied.len();
    };
    let mut available = 0;
    while at + available < supplied.len()
        && available < first.max
        && first.symbols.contains(supplied[at + available])
    {
        available += 1;
    }
    if available < first.min {
        return false;
    }
    let counts: Vec<usize> = if first.greedy {
        (first.min..=available).rev().collect()
    } else {
        (first.min..=available).collect()
    };
    for n in counts {
        spans.push((at, at + n));
        if match_params(rest, supplied, at + n, spans) {
            return true;
        }
        spans.pop();
    }
    false
}

fn class_symbols(class: &str) -> String {
    class
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

fn closing(chars: &[char], start: usize, open: char, close: char) -> usize {
    let mut depth = 1;
    let mut pos = start;
    while pos < chars.len() {
        pos += 1;
        match chars.get(pos) {
            Some(c) if *c == close => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            Some(c) if *c == open => depth += 1,
            _ => {}
        }
    }
    pos
}

impl Signature {
    /// Parses a signature such as `<s-nn?:s>`; errors are `(code, offset)`.
    pub(crate) fn parse(signature: &str) -> std::result::Result<Self, (&'static str, usize)> {
        let chars: Vec<char> = signature.chars().collect();
        let mut params: Vec<Param> = Vec::new();
        let mut position = 1;
        while position < chars.len() {
            let symbol = chars[position];
            if symbol == ':' {
                break;
            }
            let simple = |regex: &str, ty: char| Param {
                regex: regex.to_string(),
                context: None,
                ty: ty.to_string(),
                subtype: None,
            };
            match symbol {
                's' | 'n' | 'b' | 'l' | 'o' => params.push(simple(&format!("[{symbol}m]"), symbol)),
                'a' => params.push(simple("[asnblfom]", 'a')),
                'f' => params.push(simple("f", 'f')),
                'j' => params.push(simple("[asnblom]", 'j')),
                'x' => params.push(simple("[asnblfom]", 'x')),
                '-' => {
                    if let Some(prev) = params.last_mut() {
                        prev.context = Some(class_symbols(&prev.regex));
                        prev.regex.push('?');
                    }
                }
                '?' | '+' => {
                    if let Some(prev) = params.last_mut() {
                        prev.regex.push(symbol);
                    }
                }
                '(' => {
                    let end = closing(&chars, position, '(', ')');
                    let choice: String = chars[position + 1..end.min(chars.len())].iter().collect();
                    if choice.contains('<') {
                        return Err(("S0402", position));
                    }
                    params.push(Param {
                        regex: format!("[{choice}m]"),
                        context: None,
                        ty: format!("({choice})"),
                        subtype: None,
                    });
                    position = end;
                }
                '<' => match params.last_mut() {
                    Some(prev) if prev.ty == "a" || prev.ty == "f" => {
                        let end = closing(&chars, position, '<', '>');
                        prev.subtype =
                            Some(chars[position + 1..end.min(chars.len())].iter().collect());
                        position = end;
                    }
                    _ => return Err(("S0401", position)),
                },
                _ => {}
            }
            position += 1;
        }
        let pattern = format!(
            "^{}$",
            params
                .iter()
                .map(|p| format!("({})", p.regex))
                .collect::<String>()
        );
        let simple = params
            .iter()
            .map(|p| Quantified::from_regex(&p.regex))
            .collect::<Option<Vec<_>>>();
        if simple.is_none() && regex::Regex::new(&pattern).is_err() {
            return Err(("S0401", 0));
        }
        Ok(Self {
            params,
            pattern,
            regex: std::sync::OnceLock::new(),
            simple,
        })
    }

    /// Number of declared parameters.
    pub(crate) fn arity(&self) -> usize {
        self.params.len()
    }

    /// Validates `args` against the signature, returning the arguments to call with.
    pub(crate) fn validate<'a>(
        &self,
        args: &[Option<Value<'a>>],
        context: &Option<Value<'a>>,
    ) -> Result<Vec<Option<Value<'a>>>> {
        let symbols: Vec<char> = args
            .iter()
            .map(|a| a.as_ref().map_or('m', Value::symbol))
            .collect();
        let supplied: String = symbols.iter().collect();
        let spans: Vec<(usize, usize)> = match &self.simple {
            Some(simple) => {
                let mut spans = Vec::with_capacity(simple.len());
                if !match_params(simple, &symbols, 0, &mut spans) {
                    return Err(self.mismatch(args, &supplied));
                }
                spans
            }
            None => {
                let regex = self
                    .regex
                    .get_or_init(|| regex::Regex::new(&self.pattern).ok());
                let Some(caps) = regex.as_ref().and_then(|r| r.captures(&supplied)) else {
                    return Err(self.mismatch(args, &supplied));
                };
                (1..=self.params.len())
                    .map(|i| caps.get(i).map_or((0, 0), |m| (m.start(), m.end())))
                    .collect()
            }
        };
        let mut out = Vec::with_capacity(self.params.len());
        let mut arg_index = 0;
        for (i, param) in self.params.iter().enumerate() {
            let (from, to) = spans.get(i).copied().unwrap_or((0, 0));
            let matched = supplied.get(from..to).unwrap_or("");
            if matched.is_empty() {
                if let Some(accepts) = &param.context {
                    let ctx_symbol = context.as_ref().map_or('m', Value::symbol);
                    if accepts.contains(ctx_symbol) {
                        out.push(context.clone());
                    } else {
                        let mut err = Error::new("T0411").value2((arg_index + 1).to_string());
                        if let Some(c) = context {
                            err = err.value(describe(c));
                        }
                        return Err(err);
                    }
                } else {
                    out.push(args.get(arg_index).cloned().flatten());
                    arg_index += 1;
                }
                continue;
            }
            for single in matched.chars() {
                let arg = args.get(arg_index).cloned().flatten();
                if param.ty == "a" {
                    if single == 'm' {
                        out.push(None);
                    } else {
                        let arg = arg.unwrap_or(Value::Null);
                        if let Some(subtype) = &param.subtype {
                            let ok = if single != 'a' {
                                matched == subtype.as_str()
                            } else {
                                match arg.as_array() {
                                    Some(items) if !items.is_empty() => {
                                        let first = items.get(0).map_or('m', |v| v.symbol());
                                        subtype.starts_with(first)
                                            && items.iter().all(|v| v.symbol() == first)
                                    }
                                    _ => true,
                                }
                            };
                            if !ok {
                                return Err(Error::new("T0412")
                                    .value(describe(&arg))
                                    .value2((arg_index + 1).to_string())
                                    .detail(plural(subtype)));
                            }
                        }
                        if single == 'a' {
                            out.push(Some(arg));
                        } else {
                            out.push(Some(Value::array(vec![arg], 0)));
                        }
                    }
                } else {
                    out.push(arg);
                }
                arg_index += 1;
            }
        }
        Ok(out)
    }

    fn mismatch(&self, args: &[Option<Value<'_>>], supplied: &str) -> Error {
        let mut partial = String::from("^");
        let mut good_to = 0;
        for param in &self.params {
            partial.push_str(&param.regex);
            let matched = regex::Regex::new(&partial)
                .ok()
                .and_then(|r| r.find(supplied).map(|m| m.end()));
            match matched {
                None => break,
                Some(end) => good_to = end,
            }
        }
        let mut err = Error::new("T0410").value2((good_to + 1).to_string());
        if let Some(Some(v)) = args.get(good_to) {
            err = err.value(describe(v));
        }
        err
    }
}

fn plural(subtype: &str) -> String {
    match subtype {
        "a" => "arrays",
        "b" => "booleans",
        "f" => "functions",
        "n" => "numbers",
        "o" => "objects",
        "s" => "strings",
        _ => subtype,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_and_optional_parameters() {
        let sig = Signature::parse("<s-nn?:s>").expect("parses");
        let ctx = Some(Value::Lit("hello"));
        let args = sig
            .validate(&[Some(Value::Number(1.0))], &ctx)
            .expect("context fills the first argument");
        assert_eq!(args.len(), 3);
        assert_eq!(args[0].as_ref().and_then(Value::as_str), Some("hello"));
        assert!(sig.validate(&[Some(Value::Bool(true))], &ctx).is_err());
    }

    #[test]
    fn errors_carry_codes() {
        assert_eq!(Signature::parse("<n<n>>").err(), Some(("S0401", 2)));
        assert_eq!(
            Signature::parse("<(sa<n>)>").err().map(|e| e.0),
            Some("S0402")
        );
    }
}
