//! `$formatNumber`: XPath F&O 3.1 `format-number` pictures (`#,##0.00`, `0.0e0`, `%`, ‰),
//! with jsonata-js's reading of the picture rules.

use crate::error::{Error, Result};
use crate::functions::round_half_even;
use crate::number;
use crate::value::Value;

struct Props {
    decimal: char,
    grouping: char,
    exponent: char,
    minus: String,
    percent: char,
    per_mille: char,
    zero: char,
    digit: char,
    pattern: char,
}

struct Parts {
    prefix: Vec<char>,
    suffix: Vec<char>,
    active: Vec<char>,
    mantissa: Vec<char>,
    exponent: Option<Vec<char>>,
    integer: Vec<char>,
    fractional: Vec<char>,
    sub: Vec<char>,
}

#[derive(Clone)]
struct Pic {
    integer_grouping: Vec<usize>,
    regular: usize,
    min_int: i64,
    scaling: i64,
    prefix: String,
    fractional_grouping: Vec<usize>,
    min_frac: i64,
    max_frac: i64,
    min_exp: i64,
    suffix: String,
    picture: Vec<char>,
}

fn index_of(hay: &[char], c: char) -> Option<usize> {
    hay.iter().position(|x| *x == c)
}

fn index_of_from(hay: &[char], c: char, from: usize) -> Option<usize> {
    hay.iter()
        .skip(from)
        .position(|x| *x == c)
        .map(|i| i + from)
}

pub(crate) fn format_number(
    value: f64,
    picture: &str,
    options: Option<&Value<'_>>,
) -> Result<String> {
    let mut p = Props {
        decimal: '.',
        grouping: ',',
        exponent: 'e',
        minus: "-".into(),
        percent: '%',
        per_mille: '\u{2030}',
        zero: '0',
        digit: '#',
        pattern: ';',
    };
    if let Some(o) = options.and_then(Value::as_object) {
        for (k, v) in o.iter() {
            let Some(s) = v.as_str() else { continue };
            let c = s.chars().next().unwrap_or(' ');
            match &*k {
                "decimal-separator" => p.decimal = c,
                "grouping-separator" => p.grouping = c,
                "exponent-separator" => p.exponent = c,
                "minus-sign" => p.minus = s.to_string(),
                "percent" => p.percent = c,
                "per-mille" => p.per_mille = c,
                "zero-digit" => p.zero = c,
                "digit" => p.digit = c,
                "pattern-separator" => p.pattern = c,
                _ => {}
            }
        }
    }
    let family: Vec<char> = (0..10)
        .filter_map(|i| char::from_u32(p.zero as u32 + i))
        .collect();
    let is_family = |c: char| family.contains(&c);
    let is_active = |c: char| {
        is_family(c)
            || c == p.decimal
            || c == p.exponent
            || c == p.grouping
            || c == p.digit
            || c == p.pattern
    };
    let chars: Vec<char> = picture.chars().collect();
    let subs: Vec<Vec<char>> = chars
        .split(|c| *c == p.pattern)
        .map(<[char]>::to_vec)
        .collect();
    if subs.len() > 2 {
        return Err(Error::new("D3080"));
    }

    let split_parts = |sub: &[char]| -> Parts {
        let prefix_len = sub
            .iter()
            .position(|c| is_active(*c) && *c != p.exponent)
            .unwrap_or(0);
        let suffix_start = sub
            .iter()
            .rposition(|c| is_active(*c) && *c != p.exponent)
            .map_or(sub.len(), |i| i + 1);
        let prefix = sub[..prefix_len].to_vec();
        let suffix = sub[suffix_start..].to_vec();
        let active_end = sub.len() - suffix.len();
        let active = if prefix_len <= active_end {
            sub[prefix_len..active_end].to_vec()
        } else {
            Vec::new()
        };
        let exp_pos = index_of_from(sub, p.exponent, prefix_len);
        let (mantissa, exponent) = match exp_pos {
            Some(e) if e <= sub.len() - suffix.len() => (
                active[..e.min(active.len())].to_vec(),
                Some(active[(e + 1).min(active.len())..].to_vec()),
            ),
            _ => (active.clone(), None),
        };
        let (integer, fractional) = match index_of(&mantissa, p.decimal) {
            None => (mantissa.clone(), suffix.clone()),
            Some(d) => (mantissa[..d].to_vec(), mantissa[d + 1..].to_vec()),
        };
        Parts {
            prefix,
            suffix,
            active,
            mantissa,
            exponent,
            integer,
            fractional,
            sub: sub.to_vec(),
        }
    };
    let parts: Vec<Parts> = subs.iter().map(|s| split_parts(s)).collect();

    for part in &parts {
        let sub = &part.sub;
        let count = |c: char| sub.iter().filter(|x| **x == c).count();
        let mut error = None;
        if count(p.decimal) > 1 {
            error = Some("D3081");
        }
        if count(p.percent) > 1 {
            error = Some("D3082");
        }
        if count(p.per_mille) > 1 {
            error = Some("D3083");
        }
        if count(p.percent) > 0 && count(p.per_mille) > 0 {
            error = Some("D3084");
        }
        if !part.mantissa.iter().any(|c| is_family(*c) || *c == p.digit) {
            error = Some("D3085");
        }
        if part.active.iter().any(|c| !is_active(*c)) {
            error = Some("D3086");
        }
        match index_of(sub, p.decimal) {
            Some(d) => {
                let before = d.checked_sub(1).and_then(|i| sub.get(i));
                if before == Some(&p.grouping) || sub.get(d + 1) == Some(&p.grouping) {
                    error = Some("D3087");
                }
            }
            None => {
                if part.integer.last() == Some(&p.grouping) {
                    error = Some("D3088");
                }
            }
        }
        if sub
            .windows(2)
            .any(|w| w[0] == p.grouping && w[1] == p.grouping)
        {
            error = Some("D3089");
        }
        if let Some(pos) = index_of(&part.integer, p.digit)
            && part.integer[..pos].iter().any(|c| is_family(*c))
        {
            error = Some("D3090");
        }
        if let Some(pos) = part.fractional.iter().rposition(|c| *c == p.digit)
            && part.fractional[pos..].iter().any(|c| is_family(*c))
        {
            error = Some("D3091");
        }
        if let Some(exp) = &part.exponent {
            if !exp.is_empty() && (count(p.percent) > 0 || count(p.per_mille) > 0) {
                error = Some("D3092");
            }
            if exp.is_empty() || exp.iter().any(|c| !is_family(*c)) {
                error = Some("D3093");
            }
        }
        if let Some(code) = error {
            return Err(Error::new(code));
        }
    }

    let analyse = |part: &Parts| -> Pic {
        let grouping_positions = |target: &[char], to_left: bool| -> Vec<usize> {
            let mut positions = Vec::new();
            let mut gp = index_of(target, p.grouping);
            while let Some(g) = gp {
                let slice = if to_left {
                    &target[..g]
                } else {
                    &target[g.min(target.len())..]
                };
                positions.push(
                    slice
                        .iter()
                        .filter(|c| is_family(**c) || **c == p.digit)
                        .count(),
                );
                gp = index_of_from(&part.integer, p.grouping, g + 1);
                if positions.len() > target.len() + part.integer.len() {
                    break;
                }
            }
            positions
        };
        let integer_grouping = grouping_positions(&part.integer, false);
        let regular = regular_grouping(&integer_grouping);
        let fractional_grouping = grouping_positions(&part.fractional, true);
        let mut min_int = part.integer.iter().filter(|c| is_family(**c)).count() as i64;
        let scaling = min_int;
        let mut min_frac = part.fractional.iter().filter(|c| is_family(**c)).count() as i64;
        let mut max_frac = part
            .fractional
            .iter()
            .filter(|c| is_family(**c) || **c == p.digit)
            .count() as i64;
        let exp_present = part.exponent.is_some();
        if min_int == 0 && max_frac == 0 {
            if exp_present {
                min_frac = 1;
                max_frac = 1;
            } else {
                min_int = 1;
            }
        }
        if exp_present && min_int == 0 && part.integer.contains(&p.digit) {
            min_int = 1;
        }
        if min_int == 0 && min_frac == 0 {
            min_frac = 1;
        }
        let min_exp = part
            .exponent
            .as_ref()
            .map_or(0, |e| e.iter().filter(|c| is_family(**c)).count() as i64);
        Pic {
            integer_grouping,
            regular,
            min_int,
            scaling,
            prefix: part.prefix.iter().collect(),
            fractional_grouping,
            min_frac,
            max_frac,
            min_exp,
            suffix: part.suffix.iter().collect(),
            picture: part.sub.clone(),
        }
    };
    let mut pics: Vec<Pic> = parts.iter().map(analyse).collect();
    if pics.len() == 1 {
        let mut neg = pics[0].clone();
        neg.prefix = format!("{}{}", p.minus, neg.prefix);
        pics.push(neg);
    }
    let pic = if value >= 0.0 { &pics[0] } else { &pics[1] };
    let adjusted = if pic.picture.contains(&p.percent) {
        value * 100.0
    } else if pic.picture.contains(&p.per_mille) {
        value * 1000.0
    } else {
        value
    };
    let mut mantissa = adjusted;
    let mut exponent: Option<i64> = None;
    if pic.min_exp != 0 {
        let max_m = 10f64.powi(pic.scaling as i32);
        let min_m = 10f64.powi(pic.scaling as i32 - 1);
        let mut e = 0;
        if mantissa != 0.0 && mantissa.is_finite() {
            while mantissa.abs() < min_m {
                mantissa *= 10.0;
                e -= 1;
            }
            while mantissa.abs() > max_m {
                mantissa /= 10.0;
                e += 1;
            }
        }
        exponent = Some(e);
    }
    let rounded = round_half_even(mantissa, pic.max_frac as f64);
    let make_string = |v: f64, dp: usize| -> Vec<char> {
        let s = number::to_fixed(v.abs(), dp);
        s.chars()
            .map(|c| match c.to_digit(10) {
                Some(d) if p.zero != '0' => family[d as usize],
                _ => c,
            })
            .collect()
    };
    let mut s = make_string(rounded, pic.max_frac.max(0) as usize);
    match index_of(&s, '.') {
        None => s.push(p.decimal),
        Some(i) => s[i] = p.decimal,
    }
    while s.first() == Some(&p.zero) {
        s.remove(0);
    }
    while s.last() == Some(&p.zero) {
        s.pop();
    }
    let mut dp = index_of(&s, p.decimal).unwrap_or(s.len()) as i64;
    let pad_left = pic.min_int - dp;
    let pad_right = pic.min_frac - (s.len() as i64 - dp - 1);
    if pad_left > 0 {
        let mut padded: Vec<char> = std::iter::repeat_n(p.zero, pad_left as usize).collect();
        padded.extend(s);
        s = padded;
    }
    if pad_right > 0 {
        s.extend(std::iter::repeat_n(p.zero, pad_right as usize));
    }
    dp = index_of(&s, p.decimal).unwrap_or(s.len()) as i64;
    if pic.regular > 0 {
        let groups = (dp - 1) / pic.regular as i64;
        for g in 1..=groups {
            let at = dp - g * pic.regular as i64;
            if at >= 0 {
                s.insert(at as usize, p.grouping);
            }
        }
    } else {
        for pos in &pic.integer_grouping {
            let at = dp - *pos as i64;
            if at >= 0 && at as usize <= s.len() {
                s.insert(at as usize, p.grouping);
                dp += 1;
            }
        }
    }
    dp = index_of(&s, p.decimal).unwrap_or(s.len()) as i64;
    for pos in &pic.fractional_grouping {
        let at = *pos as i64 + dp + 1;
        if at as usize <= s.len() {
            s.insert(at as usize, p.grouping);
        }
    }
    dp = index_of(&s, p.decimal).unwrap_or(s.len()) as i64;
    if !pic.picture.contains(&p.decimal) || dp == s.len() as i64 - 1 {
        s.pop();
    }
    let mut out: String = s.into_iter().collect();
    if let Some(e) = exponent {
        let mut digits: String = make_string(e as f64, 0).into_iter().collect();
        let pad = pic.min_exp - digits.chars().count() as i64;
        if pad > 0 {
            digits = format!("{}{digits}", p.zero.to_string().repeat(pad as usize));
        }
        out.push(p.exponent);
        if e < 0 {
            out.push_str(&p.minus);
        }
        out.push_str(&digits);
    }
    Ok(format!("{}{out}{}", pic.prefix, pic.suffix))
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

pub(crate) fn regular_grouping(indexes: &[usize]) -> usize {
    if indexes.is_empty() {
        return 0;
    }
    let factor = indexes.iter().copied().reduce(gcd).unwrap_or(0);
    if factor == 0 {
        return 0;
    }
    for i in 1..=indexes.len() {
        if !indexes.contains(&(i * factor)) {
            return 0;
        }
    }
    factor
}
