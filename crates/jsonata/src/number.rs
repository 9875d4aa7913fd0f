//! Numbers as JavaScript prints them: JSONata is specified in terms of JavaScript numbers,
//! so `$string(1e21)` is `"1e+21"` and `$string(0.000001)` is `"0.000001"`.

/// `Number.prototype.toString()` for a finite or non-finite double.
pub(crate) fn to_js_string(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if x == 0.0 {
        return "0".into();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    // shortest round-trip digits and decimal exponent
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp + 1; // position of the decimal point relative to the digits
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let e_sign = if e < 0 { "-" } else { "+" };
        if k == 1 {
            format!("{digits}e{e_sign}{}", e.abs())
        } else {
            format!("{}.{}e{e_sign}{}", &digits[..1], &digits[1..], e.abs())
        }
    };
    format!("{sign}{body}")
}

/// `Number(x.toPrecision(15))`: the value rounded to 15 significant digits.
pub(crate) fn to_precision_15(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    format!("{x:.14e}").parse().unwrap_or(x)
}

/// `Number.prototype.toFixed(dp)` for the magnitudes JSONata's formatting needs.
pub(crate) fn to_fixed(x: f64, dp: usize) -> String {
    if x.abs() >= 1e21 {
        return to_js_string(x);
    }
    format!("{x:.dp$}")
}

/// Integer digits of `value` in `radix` (2..=36), as `Number.prototype.toString(radix)` for
/// integers.
pub(crate) fn to_radix_string(value: f64, radix: u32) -> String {
    if radix == 10 {
        return to_js_string(value);
    }
    let negative = value < 0.0;
    let mut n = value.abs().trunc();
    if n == 0.0 {
        return "0".into();
    }
    let mut digits = Vec::new();
    while n >= 1.0 {
        let d = (n % radix as f64) as u32;
        digits.push(std::char::from_digit(d, radix).unwrap_or('0'));
        n = (n / radix as f64).trunc();
    }
    if negative {
        digits.push('-');
    }
    digits.iter().rev().collect()
}

/// JavaScript's `Math.round`: halves round towards +∞.
pub(crate) fn js_round(x: f64) -> f64 {
    (x + 0.5).floor()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_javascript() {
        assert_eq!(to_js_string(1.0), "1");
        assert_eq!(to_js_string(-1.5), "-1.5");
        assert_eq!(to_js_string(1e21), "1e+21");
        assert_eq!(to_js_string(1e20), "100000000000000000000");
        assert_eq!(to_js_string(0.000001), "0.000001");
        assert_eq!(to_js_string(0.0000001), "1e-7");
        assert_eq!(to_js_string(1.2345e-7), "1.2345e-7");
        assert_eq!(to_js_string(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(to_js_string(123.456), "123.456");
    }

    #[test]
    fn rounds_to_fifteen_digits() {
        assert_eq!(to_precision_15(0.1 + 0.2), 0.3);
        assert_eq!(to_radix_string(255.0, 16), "ff");
        assert_eq!(to_radix_string(-8.0, 2), "-1000");
    }
}
