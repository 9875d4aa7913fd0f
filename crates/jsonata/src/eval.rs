//! The evaluator: walks the processed tree against borrowed input, with JSONata's sequence
//! semantics (singleton unwrapping, flattening of path results, `[]` keeping arrays), tuple
//! streams for `@`, `#` and `%`, closures over frame indices (frames live for one evaluation,
//! so closures never leak reference cycles), a trampoline for tail calls, and the budget.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use crate::Budget;
use crate::ast::{BinOp, Kind, Node, SortTerm, Stage};
use crate::error::{Error, Result};
use crate::functions::{self, Builtin};
use crate::stack::StackGuard;
use crate::value::{
    CONS, EnvId, Func, KEEP_SINGLETON, Key, MAX_NESTING, OUTER_WRAPPER, Object, SEQUENCE,
    TUPLE_STREAM, Value, describe, truthy,
};

pub(crate) type Input<'a> = Option<Value<'a>>;
type Out<'a> = Result<Option<Value<'a>>>;

struct Frame<'a> {
    vars: Vec<(&'a str, Option<Value<'a>>)>,
    parent: Option<EnvId>,
}

/// Looks up names the evaluator does not know: the caller's bindings and registered functions.
pub(crate) trait Globals<'a> {
    fn variable(&self, name: &str) -> Option<Value<'a>>;
    fn native(&self, name: &str) -> Option<&'a crate::NativeFunction>;
}

pub(crate) struct Eval<'a> {
    pub labels: &'a [String],
    pub globals: &'a dyn Globals<'a>,
    pub root: Input<'a>,
    frames: RefCell<Vec<Frame<'a>>>,
    depth: Cell<usize>,
    steps: Cell<u64>,
    pub now: i64,
    pub rng: Cell<u64>,
    pub budget: Budget,
    stack: StackGuard,
}

const AT: &str = "@";

impl<'a> Eval<'a> {
    pub(crate) fn new(
        labels: &'a [String],
        globals: &'a dyn Globals<'a>,
        root: Input<'a>,
        now: i64,
        seed: u64,
        budget: Budget,
    ) -> Self {
        Self {
            labels,
            globals,
            root,
            frames: RefCell::new(vec![Frame {
                vars: Vec::new(),
                parent: None,
            }]),
            depth: Cell::new(0),
            steps: Cell::new(0),
            now,
            rng: Cell::new(seed),
            budget,
            stack: StackGuard::new(budget.max_stack),
        }
    }

    // -----------------------------------------------------------------------------------------
    // environment

    pub(crate) fn new_frame(&self, parent: EnvId) -> EnvId {
        let mut frames = self.frames.borrow_mut();
        frames.push(Frame {
            vars: Vec::new(),
            parent: Some(parent),
        });
        frames.len() - 1
    }

    pub(crate) fn bind(&self, env: EnvId, name: &'a str, value: Option<Value<'a>>) {
        let mut frames = self.frames.borrow_mut();
        let vars = &mut frames[env].vars;
        if let Some(slot) = vars.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = value;
        } else {
            vars.push((name, value));
        }
    }

    /// `Some(v)` when the name is bound (possibly to undefined), `None` when it is not.
    fn lookup_frames(&self, env: EnvId, name: &str) -> Option<Option<Value<'a>>> {
        let frames = self.frames.borrow();
        let mut current = Some(env);
        while let Some(id) = current {
            let frame = &frames[id];
            if let Some((_, v)) = frame.vars.iter().rev().find(|(n, _)| *n == name) {
                return Some(v.clone());
            }
            current = frame.parent;
        }
        None
    }

    pub(crate) fn lookup(&self, env: EnvId, name: &str) -> Option<Value<'a>> {
        if let Some(v) = self.lookup_frames(env, name) {
            return v;
        }
        if let Some(v) = self.globals.variable(name) {
            return Some(v);
        }
        if let Some(n) = self.globals.native(name) {
            return Some(Value::Func(Rc::new(Func::Native(n))));
        }
        Builtin::from_name(name).map(|b| Value::Func(Rc::new(Func::Builtin(b))))
    }

    fn frame_from_tuple(&self, env: EnvId, tuple: &Value<'a>) -> EnvId {
        let frame = self.new_frame(env);
        if let Some(o) = tuple.as_object() {
            for (k, v) in o.iter() {
                if let Key::Lit(name) = k {
                    self.bind(frame, name, Some(v));
                }
            }
        }
        frame
    }

    // -----------------------------------------------------------------------------------------
    // budget

    fn enter(&self) -> Result<()> {
        let depth = self.depth.get() + 1;
        self.depth.set(depth);
        if depth > self.budget.max_depth || self.stack.exceeded() {
            return Err(Error::new("D1011").value(self.budget.max_depth.to_string()));
        }
        let steps = self.steps.get() + 1;
        self.steps.set(steps);
        if steps > self.budget.max_steps {
            return Err(Error::new("D1012").value(self.budget.max_steps.to_string()));
        }
        Ok(())
    }

    /// Charges `n` steps for work done natively (ranges, large sorts, string building).
    pub(crate) fn charge(&self, n: u64) -> Result<()> {
        let steps = self.steps.get().saturating_add(n);
        self.steps.set(steps);
        if steps > self.budget.max_steps {
            return Err(Error::new("D1012").value(self.budget.max_steps.to_string()));
        }
        Ok(())
    }

    pub(crate) fn check_sequence(&self, len: usize) -> Result<()> {
        if len > self.budget.max_sequence {
            return Err(Error::new("D2014")
                .value(len.to_string())
                .detail(self.budget.max_sequence.to_string()));
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // evaluate

    pub(crate) fn eval(&self, node: &'a Node, input: &Input<'a>, env: EnvId) -> Out<'a> {
        self.enter()?;
        let result = self.eval_node(node, input, env);
        self.depth.set(self.depth.get() - 1);
        if let Ok(Some(v)) = &result
            && v.nesting() > MAX_NESTING
        {
            return Err(Error::new("D1011")
                .at(node.position)
                .value(format!("{MAX_NESTING} nested arrays/objects")));
        }
        result
    }

    fn eval_node(&self, node: &'a Node, input: &Input<'a>, env: EnvId) -> Out<'a> {
        let mut result = match &node.kind {
            Kind::Path(steps) => self.eval_path(node, steps, input, env)?,
            Kind::Binary(op, lhs, rhs) => self.eval_binary(node, *op, lhs, rhs, input, env)?,
            Kind::Negate(inner) => match self.eval(inner, input, env)? {
                None => None,
                Some(v) => {
                    if is_numeric(&v)? {
                        Some(Value::Number(-v.as_f64().unwrap_or(0.0)))
                    } else {
                        return Err(Error::new("D1002")
                            .at(node.position)
                            .token("-")
                            .value(describe(&v)));
                    }
                }
            },
            Kind::Array(items) => {
                let mut out: Vec<Value<'a>> = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(v) = self.eval(item, input, env)? {
                        if matches!(item.kind, Kind::Array(_)) {
                            out.push(v);
                        } else if let Some(a) = v.as_array() {
                            out.extend(a.iter());
                        } else {
                            out.push(v);
                        }
                    }
                }
                self.check_sequence(out.len())?;
                Some(Value::array(out, if node.consarray { CONS } else { 0 }))
            }
            Kind::Object(pairs) => {
                Some(self.eval_group(pairs, node.position, input.clone(), env)?)
            }
            Kind::Name(name) => lookup_field(input.as_ref(), name),
            Kind::String(s) => Some(Value::Lit(s)),
            Kind::Number(n) => Some(Value::Number(*n)),
            Kind::Bool(b) => Some(Value::Bool(*b)),
            Kind::Null => Some(Value::Null),
            Kind::Wildcard => Some(wildcard(input.as_ref())),
            Kind::Descendant => descendants(input.as_ref()),
            Kind::Parent(slot) => {
                let label = self.labels.get(*slot).map_or("", String::as_str);
                self.lookup(env, label)
            }
            Kind::Condition(cond, then, otherwise) => {
                let c = self.eval(cond, input, env)?;
                if truthy(c.as_ref()).unwrap_or(false) {
                    self.eval(then, input, env)?
                } else if let Some(o) = otherwise {
                    self.eval(o, input, env)?
                } else {
                    None
                }
            }
            Kind::Block(exprs) => {
                let frame = self.new_frame(env);
                let mut last = None;
                for e in exprs {
                    last = self.eval(e, input, frame)?;
                }
                last
            }
            Kind::Bind(name, value) => {
                let v = self.eval(value, input, env)?;
                self.bind(env, name, v.clone());
                v
            }
            Kind::Regex(lit) => Some(Value::Func(Rc::new(Func::Regex(lit)))),
            Kind::Function(procedure, args) => {
                self.eval_function(node, procedure, args, input, env, None)?
            }
            Kind::Partial(procedure, args) => {
                self.eval_partial(node, procedure, args, input, env)?
            }
            Kind::Placeholder => None,
            Kind::Variable(name) => {
                if name.is_empty() {
                    match input {
                        Some(v) if v.has_flag(OUTER_WRAPPER) => v.as_array().and_then(|a| a.get(0)),
                        other => other.clone(),
                    }
                } else if name == "$" {
                    self.root.clone()
                } else {
                    self.lookup(env, name)
                }
            }
            Kind::Lambda(def) => Some(Value::Func(Rc::new(Func::Lambda {
                def,
                params: None,
                input: input.clone(),
                env,
                position: node.position,
            }))),
            Kind::Thunk(call) => Some(Value::Func(Rc::new(Func::Thunk {
                call,
                input: input.clone(),
                env,
            }))),
            Kind::Apply(lhs, rhs) => self.eval_apply(node, lhs, rhs, input, env)?,
            Kind::Transform(..) => Some(Value::Func(Rc::new(Func::Transform { node, env }))),
            Kind::Sort(_) => None,
        };

        for predicate in &node.predicate {
            result = Some(self.filter(predicate, result, env)?);
        }
        if !matches!(node.kind, Kind::Path(_))
            && let Some(group) = &node.group
        {
            result = Some(self.eval_group(&group.pairs, group.position, result, env)?);
        }

        if let Some(v) = &result
            && v.is_sequence()
            && !v.has_flag(TUPLE_STREAM)
        {
            if node.keep_array {
                v.set_flag(KEEP_SINGLETON);
            }
            let items = v.as_array().map_or(0, |a| a.len());
            if items == 0 {
                result = None;
            } else if items == 1 && !v.has_flag(KEEP_SINGLETON) {
                result = v.as_array().and_then(|a| a.get(0));
            }
        }
        Ok(result)
    }

    // -----------------------------------------------------------------------------------------
    // paths

    fn eval_path(
        &self,
        node: &'a Node,
        steps: &'a [Node],
        input: &Input<'a>,
        env: EnvId,
    ) -> Out<'a> {
        // Fast path: while each step maps one non-array value to one value, no sequences are
        // needed (the common `$states.input.detail.field`).
        let plain_path = node.group.is_none() && !node.keep_singleton_array && !node.tuple;
        if plain_path && let Some(mut current) = input.clone() {
            for (i, step) in steps.iter().enumerate() {
                let simple = !step.tuple
                    && step.stages.is_empty()
                    && !step.consarray
                    && step.focus.is_none()
                    && step.index.is_none()
                    && !matches!(step.kind, Kind::Sort(_));
                if !simple || (current.is_array() && !matches!(step.kind, Kind::Variable(_))) {
                    return self.eval_path_from(node, steps, i, vec![Some(current)], env);
                }
                match self.eval(step, &Some(current.clone()), env)? {
                    None => return Ok(None),
                    Some(v) if v.is_array() => {
                        return self.eval_path_from(node, steps, i, vec![Some(current)], env);
                    }
                    Some(v) => current = v,
                }
            }
            return Ok(Some(current));
        }
        let input_seq: Vec<Input<'a>> = match input {
            Some(v) if !matches!(steps.first().map(|s| &s.kind), Some(Kind::Variable(_))) => {
                match v.as_array() {
                    Some(a) => a.iter().map(Some).collect(),
                    None => vec![Some(v.clone())],
                }
            }
            other => vec![other.clone()],
        };
        self.eval_path_from(node, steps, 0, input_seq, env)
    }

    fn eval_path_from(
        &self,
        node: &'a Node,
        steps: &'a [Node],
        start: usize,
        mut input_seq: Vec<Input<'a>>,
        env: EnvId,
    ) -> Out<'a> {
        let mut result_seq: Option<Value<'a>> = None;
        let mut is_tuple = false;
        let mut tuples: Option<Vec<Value<'a>>> = None;
        for (i, step) in steps.iter().enumerate().skip(start) {
            if step.tuple {
                is_tuple = true;
            }
            if i == 0 && step.consarray {
                let seq = Value::sequence(input_seq.iter().flatten().cloned().collect());
                result_seq = self.eval(step, &Some(seq), env)?;
            } else if is_tuple {
                tuples = Some(self.eval_tuple_step(step, &input_seq, tuples.take(), env)?);
            } else {
                result_seq = Some(self.eval_step(step, &input_seq, env, i == steps.len() - 1)?);
            }
            if !is_tuple {
                let empty = match &result_seq {
                    None => true,
                    Some(v) => v.as_array().is_some_and(|a| a.is_empty()),
                };
                if empty {
                    break;
                }
            }
            if step.focus.is_none() && !is_tuple {
                input_seq = match &result_seq {
                    Some(v) => match v.as_array() {
                        Some(a) => a.iter().map(Some).collect(),
                        None => vec![Some(v.clone())],
                    },
                    None => Vec::new(),
                };
            }
        }
        let mut stream = None;
        if is_tuple {
            let tuples = tuples.unwrap_or_default();
            stream = Some(Value::array(tuples.clone(), SEQUENCE | TUPLE_STREAM));
            if node.tuple {
                result_seq = stream.clone();
            } else {
                result_seq = Some(Value::sequence(
                    tuples.iter().filter_map(|t| tuple_get(t, AT)).collect(),
                ));
            }
        }
        if node.keep_singleton_array
            && let Some(v) = &result_seq
        {
            if v.has_flag(CONS) && !v.is_sequence() {
                result_seq = Some(Value::sequence(vec![v.clone()]));
            }
            if let Some(v) = &result_seq {
                v.set_flag(KEEP_SINGLETON);
            }
        }
        if let Some(group) = &node.group {
            let grouped = self.eval_group(
                &group.pairs,
                group.position,
                if is_tuple { stream } else { result_seq },
                env,
            )?;
            return Ok(Some(grouped));
        }
        Ok(result_seq)
    }

    fn eval_step(
        &self,
        step: &'a Node,
        input: &[Input<'a>],
        env: EnvId,
        last: bool,
    ) -> Result<Value<'a>> {
        if let Kind::Sort(terms) = &step.kind {
            let seq = Value::sequence(input.iter().flatten().cloned().collect());
            let mut result = self.sort(step, terms, seq, env)?;
            for stage in &step.stages {
                if let Stage::Filter(p) = stage {
                    result = self.filter(p, Some(result), env)?;
                }
            }
            return Ok(result);
        }
        let mut results: Vec<Value<'a>> = Vec::new();
        for item in input {
            let mut res = self.eval(step, item, env)?;
            for stage in &step.stages {
                if let Stage::Filter(p) = stage {
                    res = Some(self.filter(p, res, env)?);
                }
            }
            if let Some(r) = res {
                results.push(r);
            }
        }
        if last && results.len() == 1 && results[0].is_array() && !results[0].is_sequence() {
            return Ok(results.pop().unwrap_or(Value::Null));
        }
        let mut out = Vec::with_capacity(results.len());
        for r in results {
            match r.as_array() {
                Some(a) if !r.has_flag(CONS) => out.extend(a.iter()),
                _ => out.push(r),
            }
        }
        self.check_sequence(out.len())?;
        Ok(Value::sequence(out))
    }

    fn eval_tuple_step(
        &self,
        step: &'a Node,
        input: &[Input<'a>],
        tuples: Option<Vec<Value<'a>>>,
        env: EnvId,
    ) -> Result<Vec<Value<'a>>> {
        if let Kind::Sort(terms) = &step.kind {
            let mut result = match tuples {
                Some(t) => {
                    let sorted =
                        self.sort(step, terms, Value::array(t, SEQUENCE | TUPLE_STREAM), env)?;
                    sorted.as_array().map(|a| a.to_vec()).unwrap_or_default()
                }
                None => {
                    let seq = Value::sequence(input.iter().flatten().cloned().collect());
                    let sorted = self.sort(step, terms, seq, env)?;
                    let items = sorted.as_array().map(|a| a.to_vec()).unwrap_or_default();
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| {
                            let mut t = Object::with_capacity(2);
                            t.insert(Key::Lit(AT), v);
                            if let Some(index) = &step.index {
                                t.insert(Key::Lit(index), Value::Number(i as f64));
                            }
                            Value::object(t)
                        })
                        .collect()
                }
            };
            if !step.stages.is_empty() {
                result = self.eval_stages(&step.stages, result, env)?;
            }
            return Ok(result);
        }
        let tuples = match tuples {
            Some(t) => t,
            None => input
                .iter()
                .map(|item| {
                    let mut t = Object::with_capacity(1);
                    if let Some(v) = item {
                        t.insert(Key::Lit(AT), v.clone());
                    }
                    Value::object(t)
                })
                .collect(),
        };
        let mut result = Vec::new();
        for tuple in &tuples {
            let step_env = self.frame_from_tuple(env, tuple);
            let focus = tuple_get(tuple, AT);
            let Some(res) = self.eval(step, &focus, step_env)? else {
                continue;
            };
            let res_is_stream = res.has_flag(TUPLE_STREAM);
            let items: Vec<Value<'a>> = match res.as_array() {
                Some(a) => a.to_vec(),
                None => vec![res.clone()],
            };
            let base = tuple.as_object().map(|o| o.to_object()).unwrap_or_default();
            for (bb, item) in items.into_iter().enumerate() {
                let mut t = base.clone();
                if res_is_stream {
                    if let Some(o) = item.as_object() {
                        for (k, v) in o.iter() {
                            t.insert(k, v);
                        }
                    }
                } else {
                    if let Some(focus_name) = &step.focus {
                        t.insert(Key::Lit(focus_name), item);
                    } else {
                        t.insert(Key::Lit(AT), item);
                    }
                    if let Some(index) = &step.index {
                        t.insert(Key::Lit(index), Value::Number(bb as f64));
                    }
                    if let Some(slot) = step.ancestor {
                        let label = self.labels.get(slot).map_or("", String::as_str);
                        match &focus {
                            Some(f) => t.insert(Key::Lit(label), f.clone()),
                            None => t.remove(label),
                        }
                    }
                }
                result.push(Value::object(t));
            }
        }
        self.check_sequence(result.len())?;
        if !step.stages.is_empty() {
            result = self.eval_stages(&step.stages, result, env)?;
        }
        Ok(result)
    }

    fn eval_stages(
        &self,
        stages: &'a [Stage],
        tuples: Vec<Value<'a>>,
        env: EnvId,
    ) -> Result<Vec<Value<'a>>> {
        let mut result = tuples;
        for stage in stages {
            match stage {
                Stage::Filter(p) => {
                    let filtered =
                        self.filter(p, Some(Value::array(result, SEQUENCE | TUPLE_STREAM)), env)?;
                    result = filtered.as_array().map(|a| a.to_vec()).unwrap_or_default();
                }
                Stage::Index(name) => {
                    result = result
                        .into_iter()
                        .enumerate()
                        .map(|(i, t)| {
                            let mut o = t.as_object().map(|o| o.to_object()).unwrap_or_default();
                            o.insert(Key::Lit(name), Value::Number(i as f64));
                            Value::object(o)
                        })
                        .collect();
                }
            }
        }
        Ok(result)
    }

    /// `input[predicate]`: a sequence (a tuple stream if the input was one).
    pub(crate) fn filter(
        &self,
        predicate: &'a Node,
        input: Input<'a>,
        env: EnvId,
    ) -> Result<Value<'a>> {
        let stream = input.as_ref().is_some_and(|v| v.has_flag(TUPLE_STREAM));
        let flags = if stream {
            SEQUENCE | TUPLE_STREAM
        } else {
            SEQUENCE
        };
        let items: Vec<Value<'a>> = match &input {
            None => Vec::new(),
            Some(v) => match v.as_array() {
                Some(a) => a.to_vec(),
                None => vec![v.clone()],
            },
        };
        if let Kind::Number(n) = predicate.kind {
            let mut index = n.floor();
            if index < 0.0 {
                index += items.len() as f64;
            }
            if index >= 0.0
                && let Some(item) = items.get(index as usize)
            {
                if item.is_array() {
                    return Ok(item.clone());
                }
                return Ok(Value::array(vec![item.clone()], flags));
            }
            return Ok(Value::array(Vec::new(), flags));
        }
        let mut out = Vec::new();
        let len = items.len() as f64;
        for (index, item) in items.iter().enumerate() {
            let (context, item_env) = if stream {
                (tuple_get(item, AT), self.frame_from_tuple(env, item))
            } else {
                (Some(item.clone()), env)
            };
            let res = self.eval(predicate, &context, item_env)?;
            let numbers: Option<Vec<f64>> = match &res {
                Some(v) if is_numeric(v)? => Some(vec![v.as_f64().unwrap_or(0.0)]),
                Some(v) => match v.as_array() {
                    Some(a) => {
                        let mut nums = Vec::with_capacity(a.len());
                        let mut all = true;
                        for x in a.iter() {
                            if is_numeric(&x)? {
                                nums.push(x.as_f64().unwrap_or(0.0));
                            } else {
                                all = false;
                                break;
                            }
                        }
                        all.then_some(nums)
                    }
                    None => None,
                },
                None => None,
            };
            match numbers {
                Some(nums) => {
                    for n in nums {
                        let mut ii = n.floor();
                        if ii < 0.0 {
                            ii += len;
                        }
                        if ii == index as f64 {
                            out.push(item.clone());
                        }
                    }
                }
                None => {
                    if truthy(res.as_ref()).unwrap_or(false) {
                        out.push(item.clone());
                    }
                }
            }
        }
        Ok(Value::array(out, flags))
    }

    // -----------------------------------------------------------------------------------------
    // operators

    fn eval_binary(
        &self,
        node: &'a Node,
        op: BinOp,
        lhs: &'a Node,
        rhs: &'a Node,
        input: &Input<'a>,
        env: EnvId,
    ) -> Out<'a> {
        let l = self.eval(lhs, input, env)?;
        let at = |e: Error| e.at(node.position).token(op.symbol());
        match op {
            BinOp::And => {
                let lb = truthy(l.as_ref()).unwrap_or(false);
                if !lb {
                    return Ok(Some(Value::Bool(false)));
                }
                let r = self.eval(rhs, input, env)?;
                return Ok(Some(Value::Bool(truthy(r.as_ref()).unwrap_or(false))));
            }
            BinOp::Or => {
                let lb = truthy(l.as_ref()).unwrap_or(false);
                if lb {
                    return Ok(Some(Value::Bool(true)));
                }
                let r = self.eval(rhs, input, env)?;
                return Ok(Some(Value::Bool(truthy(r.as_ref()).unwrap_or(false))));
            }
            _ => {}
        }
        let r = self.eval(rhs, input, env)?;
        match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                if let Some(v) = &l
                    && !is_numeric(v).map_err(at)?
                {
                    return Err(at(Error::new("T2001").value(describe(v))));
                }
                if let Some(v) = &r
                    && !is_numeric(v).map_err(at)?
                {
                    return Err(at(Error::new("T2002").value(describe(v))));
                }
                let (Some(a), Some(b)) = (l.and_then(|v| v.as_f64()), r.and_then(|v| v.as_f64()))
                else {
                    return Ok(None);
                };
                Ok(Some(Value::Number(match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    BinOp::Div => a / b,
                    _ => a % b,
                })))
            }
            BinOp::Eq | BinOp::Ne => {
                let (Some(a), Some(b)) = (&l, &r) else {
                    return Ok(Some(Value::Bool(false)));
                };
                let eq = a.deep_eq(b);
                Ok(Some(Value::Bool(if op == BinOp::Eq { eq } else { !eq })))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let comparable = |v: &Option<Value<'_>>| match v {
                    None => true,
                    Some(v) => v.is_string() || matches!(v, Value::Number(_)),
                };
                if !comparable(&l) || !comparable(&r) {
                    let bad = if comparable(&l) { &r } else { &l };
                    let mut e = Error::new("T2010");
                    if let Some(b) = bad {
                        e = e.value(describe(b));
                    }
                    return Err(at(e));
                }
                let (Some(a), Some(b)) = (&l, &r) else {
                    return Ok(None);
                };
                let ord = match (a, b) {
                    (Value::Number(x), Value::Number(y)) => x.partial_cmp(y),
                    _ => match (a.as_str(), b.as_str()) {
                        (Some(x), Some(y)) => Some(compare_js_strings(x, y)),
                        _ => {
                            return Err(at(Error::new("T2009")
                                .value(describe(a))
                                .value2(describe(b))));
                        }
                    },
                };
                use std::cmp::Ordering::*;
                let res = match (op, ord) {
                    (_, None) => false,
                    (BinOp::Lt, Some(o)) => o == Less,
                    (BinOp::Le, Some(o)) => o != Greater,
                    (BinOp::Gt, Some(o)) => o == Greater,
                    (_, Some(o)) => o != Less,
                };
                Ok(Some(Value::Bool(res)))
            }
            BinOp::Concat => {
                let mut s = String::new();
                if let Some(v) = &l {
                    s.push_str(&functions::string(v, false).map_err(at)?);
                }
                if let Some(v) = &r {
                    s.push_str(&functions::string(v, false).map_err(at)?);
                }
                Ok(Some(Value::string(s)))
            }
            BinOp::Range => self.range(l, r).map_err(at),
            BinOp::In => {
                let (Some(a), Some(b)) = (&l, &r) else {
                    return Ok(Some(Value::Bool(false)));
                };
                let found = match b.as_array() {
                    Some(items) => items.iter().any(|x| x.strict_eq(a)),
                    None => b.strict_eq(a),
                };
                Ok(Some(Value::Bool(found)))
            }
            BinOp::And | BinOp::Or => unreachable!("handled above"),
        }
    }

    fn range(&self, l: Input<'a>, r: Input<'a>) -> Out<'a> {
        let is_int =
            |v: &Value<'_>| matches!(v, Value::Number(n) if n.fract() == 0.0 && n.is_finite());
        if let Some(v) = &l
            && !is_int(v)
        {
            return Err(Error::new("T2003").value(describe(v)));
        }
        if let Some(v) = &r
            && !is_int(v)
        {
            return Err(Error::new("T2004").value(describe(v)));
        }
        let (Some(a), Some(b)) = (l.and_then(|v| v.as_f64()), r.and_then(|v| v.as_f64())) else {
            return Ok(None);
        };
        if a > b {
            return Ok(None);
        }
        let size = b - a + 1.0;
        if size > 1e7 || size > self.budget.max_sequence as f64 {
            let limit = (self.budget.max_sequence as f64).min(1e7);
            return Err(Error::new("D2014")
                .value(crate::number::to_js_string(size))
                .detail(crate::number::to_js_string(limit)));
        }
        self.charge(size as u64 / 16)?;
        let start = a as i64;
        let items = (0..size as i64)
            .map(|i| Value::Number((start + i) as f64))
            .collect();
        Ok(Some(Value::sequence(items)))
    }

    // -----------------------------------------------------------------------------------------
    // grouping and sorting

    pub(crate) fn eval_group(
        &self,
        pairs: &'a [(Node, Node)],
        position: usize,
        input: Input<'a>,
        env: EnvId,
    ) -> Result<Value<'a>> {
        let reduce = input.as_ref().is_some_and(|v| v.has_flag(TUPLE_STREAM));
        let mut items: Vec<Input<'a>> = match &input {
            Some(v) => match v.as_array() {
                Some(a) => a.iter().map(Some).collect(),
                None => vec![Some(v.clone())],
            },
            None => vec![None],
        };
        if items.is_empty() && !reduce {
            items.push(None);
        }
        if items.len() == 1 && !reduce {
            return self.construct(pairs, position, &items[0], env);
        }
        // key -> (data, pair index), in first-seen order
        let mut order: Vec<Rc<str>> = Vec::new();
        let mut groups: HashMap<Rc<str>, (Input<'a>, usize)> = HashMap::new();
        for item in &items {
            let (context, item_env) = match (reduce, item) {
                (true, Some(t)) => (tuple_get(t, AT), self.frame_from_tuple(env, t)),
                _ => (item.clone(), env),
            };
            for (pair_index, (key_expr, _)) in pairs.iter().enumerate() {
                let key = self.eval(key_expr, &context, item_env)?;
                let Some(key) = key else { continue };
                let Some(k) = key.as_str() else {
                    return Err(Error::new("T1003").at(position).value(describe(&key)));
                };
                match groups.get_mut(k) {
                    Some((data, index)) => {
                        if *index != pair_index {
                            return Err(Error::new("D1009").at(position).value(k.to_string()));
                        }
                        *data = functions::append(data.take(), item.clone());
                    }
                    None => {
                        let k: Rc<str> = Rc::from(k);
                        order.push(k.clone());
                        groups.insert(k, (item.clone(), pair_index));
                    }
                }
            }
        }
        let mut result = Object::with_capacity(order.len());
        for key in order {
            let Some((data, index)) = groups.remove(&key) else {
                continue;
            };
            let (context, group_env) = if reduce {
                let tuple = reduce_tuple_stream(data);
                let context = tuple.as_ref().and_then(|t| tuple_get(t, AT));
                let frame = self.new_frame(env);
                if let Some(o) = tuple.as_ref().and_then(|t| t.as_object()) {
                    for (k, v) in o.iter() {
                        if let Key::Lit(name) = k
                            && name != AT
                        {
                            self.bind(frame, name, Some(v));
                        }
                    }
                }
                (context, frame)
            } else {
                (data, env)
            };
            if let Some(v) = self.eval(&pairs[index].1, &context, group_env)? {
                result.insert(Key::Owned(key), v);
            }
        }
        Ok(Value::object(result))
    }

    /// An object constructor over a single context item: no grouping needed.
    fn construct(
        &self,
        pairs: &'a [(Node, Node)],
        position: usize,
        context: &Input<'a>,
        env: EnvId,
    ) -> Result<Value<'a>> {
        let mut keys: Vec<Option<Key<'a>>> = Vec::with_capacity(pairs.len());
        for (key_expr, _) in pairs {
            let key = match self.eval(key_expr, context, env)? {
                None => None,
                Some(Value::Lit(s)) => Some(Key::Lit(s)),
                Some(Value::Str(s)) => Some(Key::Owned(s)),
                Some(other) => {
                    return Err(Error::new("T1003").at(position).value(describe(&other)));
                }
            };
            if let Some(k) = &key
                && keys.iter().flatten().any(|seen| seen == k)
            {
                return Err(Error::new("D1009").at(position).value(k.to_string()));
            }
            keys.push(key);
        }
        let mut result = Object::with_capacity(pairs.len());
        for (key, (_, value_expr)) in keys.into_iter().zip(pairs) {
            if let Some(k) = key
                && let Some(v) = self.eval(value_expr, context, env)?
            {
                result.insert(k, v);
            }
        }
        Ok(Value::object(result))
    }

    fn sort(
        &self,
        node: &'a Node,
        terms: &'a [SortTerm],
        input: Value<'a>,
        env: EnvId,
    ) -> Result<Value<'a>> {
        let stream = input.has_flag(TUPLE_STREAM);
        let items = match input.as_array() {
            Some(a) => a.to_vec(),
            None => return Ok(input),
        };
        if items.len() <= 1 {
            return Ok(input);
        }
        // evaluate the sort keys once per item
        let mut keys: Vec<Vec<Input<'a>>> = Vec::with_capacity(items.len());
        for item in &items {
            let (context, item_env) = if stream {
                (tuple_get(item, AT), self.frame_from_tuple(env, item))
            } else {
                (Some(item.clone()), env)
            };
            let mut row = Vec::with_capacity(terms.len());
            for term in terms {
                row.push(self.eval(&term.expr, &context, item_env)?);
            }
            keys.push(row);
        }
        let position = node.position;
        let mut indices: Vec<usize> = (0..items.len()).collect();
        let swap = |a: usize, b: usize| -> Result<bool> {
            for (t, term) in terms.iter().enumerate() {
                let (aa, bb) = (&keys[a][t], &keys[b][t]);
                let comp = match (aa, bb) {
                    (None, None) => 0,
                    (None, Some(_)) => 1,
                    (Some(_), None) => -1,
                    (Some(x), Some(y)) => {
                        let ok = |v: &Value<'_>| v.is_string() || matches!(v, Value::Number(_));
                        if !ok(x) || !ok(y) {
                            let bad = if ok(x) { y } else { x };
                            return Err(Error::new("T2008").at(position).value(describe(bad)));
                        }
                        let ord = match (x, y) {
                            (Value::Number(p), Value::Number(q)) => p.partial_cmp(q),
                            _ => match (x.as_str(), y.as_str()) {
                                (Some(p), Some(q)) => Some(compare_js_strings(p, q)),
                                _ => {
                                    return Err(Error::new("T2007")
                                        .at(position)
                                        .value(describe(x))
                                        .value2(describe(y)));
                                }
                            },
                        };
                        match ord {
                            Some(std::cmp::Ordering::Less) => {
                                if term.descending {
                                    1
                                } else {
                                    -1
                                }
                            }
                            Some(std::cmp::Ordering::Greater) => {
                                if term.descending {
                                    -1
                                } else {
                                    1
                                }
                            }
                            _ => 0,
                        }
                    }
                };
                if comp != 0 {
                    return Ok(comp == 1);
                }
            }
            Ok(false)
        };
        merge_sort(&mut indices, &swap)?;
        let sorted = indices.into_iter().map(|i| items[i].clone()).collect();
        Ok(Value::array(sorted, 0))
    }

    // -----------------------------------------------------------------------------------------
    // functions

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn eval_function(
        &self,
        node: &'a Node,
        procedure: &'a Node,
        args: &'a [Node],
        input: &Input<'a>,
        env: EnvId,
        context: Option<Input<'a>>,
    ) -> Out<'a> {
        let proc = self.eval(procedure, input, env)?;
        let name = proc_name(procedure);
        if proc.is_none()
            && let Kind::Path(steps) = &procedure.kind
            && let Some(Kind::Name(n)) = steps.first().map(|s| &s.kind)
            && self.lookup(env, n).is_some()
        {
            return Err(Error::new("T1005").at(node.position).token(n.clone()));
        }
        let mut evaluated = Vec::with_capacity(args.len() + 1);
        if let Some(c) = context {
            evaluated.push(c);
        }
        for arg in args {
            evaluated.push(self.eval(arg, input, env)?);
        }
        self.apply(proc.as_ref(), evaluated, input, env)
            .map_err(|e| e.or_at(node.position).or_token(name))
    }

    fn eval_partial(
        &self,
        node: &'a Node,
        procedure: &'a Node,
        args: &'a [Node],
        input: &Input<'a>,
        env: EnvId,
    ) -> Out<'a> {
        let mut evaluated: Vec<Option<Value<'a>>> = Vec::with_capacity(args.len());
        let mut holes = Vec::with_capacity(args.len());
        for arg in args {
            if matches!(arg.kind, Kind::Placeholder) {
                evaluated.push(None);
                holes.push(true);
            } else {
                evaluated.push(self.eval(arg, input, env)?);
                holes.push(false);
            }
        }
        let proc = self.eval(procedure, input, env)?;
        if proc.is_none()
            && let Kind::Path(steps) = &procedure.kind
            && let Some(Kind::Name(n)) = steps.first().map(|s| &s.kind)
            && self.lookup(env, n).is_some()
        {
            return Err(Error::new("T1007").at(node.position).token(n.clone()));
        }
        let Some(Value::Func(func)) = proc else {
            return Err(Error::new("T1008")
                .at(node.position)
                .token(proc_name(procedure)));
        };
        if let Func::Lambda {
            def,
            params,
            input: lambda_input,
            env: lambda_env,
            position,
        } = &*func
        {
            let frame = self.new_frame(*lambda_env);
            let names: Vec<&'a str> = match params {
                Some(p) => p.clone(),
                None => def.params.iter().map(String::as_str).collect(),
            };
            let mut unbound = Vec::new();
            for (i, name) in names.into_iter().enumerate() {
                if holes.get(i).copied().unwrap_or(false) {
                    unbound.push(name);
                } else {
                    self.bind(frame, name, evaluated.get(i).cloned().flatten());
                }
            }
            return Ok(Some(Value::Func(Rc::new(Func::Lambda {
                def,
                params: Some(unbound),
                input: lambda_input.clone(),
                env: frame,
                position: *position,
            }))));
        }
        Ok(Some(Value::Func(Rc::new(Func::Partial {
            func,
            args: evaluated,
            holes,
        }))))
    }

    fn eval_apply(
        &self,
        node: &'a Node,
        lhs: &'a Node,
        rhs: &'a Node,
        input: &Input<'a>,
        env: EnvId,
    ) -> Out<'a> {
        let l = self.eval(lhs, input, env)?;
        if let Kind::Function(procedure, args) = &rhs.kind {
            return self.eval_function(rhs, procedure, args, input, env, Some(l));
        }
        let f = self.eval(rhs, input, env)?;
        let Some(Value::Func(func)) = f else {
            let mut e = Error::new("T2006").at(node.position);
            if let Some(v) = &f {
                e = e.value(describe(v));
            }
            return Err(e);
        };
        if let Some(Value::Func(first)) = &l {
            return Ok(Some(Value::Func(Rc::new(Func::Chain(first.clone(), func)))));
        }
        self.apply_func(&func, vec![l], &Some(Value::Null), env)
    }

    /// Applies a function value (or fails with T1006 for a non-function), running tail calls
    /// on a trampoline.
    pub(crate) fn apply(
        &self,
        proc: Option<&Value<'a>>,
        args: Vec<Input<'a>>,
        input: &Input<'a>,
        env: EnvId,
    ) -> Out<'a> {
        match proc {
            Some(Value::Func(f)) => self.apply_func(f, args, input, env),
            _ => Err(Error::new("T1006")),
        }
    }

    pub(crate) fn apply_func(
        &self,
        func: &Rc<Func<'a>>,
        args: Vec<Input<'a>>,
        input: &Input<'a>,
        env: EnvId,
    ) -> Out<'a> {
        let mut result = self.apply_inner(func, args, input, env)?;
        while let Some(Value::Func(f)) = &result
            && let Func::Thunk {
                call,
                input: thunk_input,
                env: thunk_env,
            } = &**f
        {
            let Kind::Function(procedure, call_args) = &call.kind else {
                break;
            };
            self.enter()?;
            self.depth.set(self.depth.get() - 1);
            let next = self.eval(procedure, thunk_input, *thunk_env)?;
            let mut evaluated = Vec::with_capacity(call_args.len());
            for a in call_args {
                evaluated.push(self.eval(a, thunk_input, *thunk_env)?);
            }
            let name = proc_name(procedure);
            result = match &next {
                Some(Value::Func(nf)) => self
                    .apply_inner(nf, evaluated, input, env)
                    .map_err(|e| e.or_at(call.position).or_token(name))?,
                _ => {
                    return Err(Error::new("T1006").at(call.position).token(name));
                }
            };
        }
        Ok(result)
    }

    fn apply_inner(
        &self,
        func: &Rc<Func<'a>>,
        args: Vec<Input<'a>>,
        input: &Input<'a>,
        env: EnvId,
    ) -> Out<'a> {
        match &**func {
            Func::Lambda {
                def,
                params,
                input: lambda_input,
                env: lambda_env,
                ..
            } => {
                let args = match (&def.signature, params) {
                    (Some(sig), None) => sig.validate(&args, input)?,
                    _ => args,
                };
                let frame = self.new_frame(*lambda_env);
                match params {
                    Some(names) => {
                        for (i, name) in names.iter().enumerate() {
                            self.bind(frame, name, args.get(i).cloned().flatten());
                        }
                    }
                    None => {
                        for (i, name) in def.params.iter().enumerate() {
                            self.bind(frame, name, args.get(i).cloned().flatten());
                        }
                    }
                }
                self.eval(&def.body, lambda_input, frame)
            }
            Func::Thunk { .. } => Ok(Some(Value::Func(func.clone()))),
            Func::Builtin(b) => {
                let args = b.signature().validate(&args, input)?;
                b.call(self, args, input, env)
            }
            Func::Native(n) => {
                let args = match &n.signature {
                    Some(sig) => sig.validate(&args, input)?,
                    None => args,
                };
                crate::call_native(self, n, &args)
            }
            Func::Partial {
                func: inner,
                args: bound,
                holes,
            } => {
                let mut supplied = args.into_iter();
                let full: Vec<Input<'a>> = bound
                    .iter()
                    .zip(holes)
                    .map(|(b, hole)| {
                        if *hole {
                            supplied.next().flatten()
                        } else {
                            b.clone()
                        }
                    })
                    .collect();
                self.apply_func(inner, full, input, env)
            }
            Func::Regex(lit) => {
                let s = args.first().cloned().flatten();
                match s.as_ref().and_then(Value::as_str) {
                    Some(text) => Ok(functions::regex_match_object(lit, text, 0)),
                    None => Ok(None),
                }
            }
            Func::Transform { node, env: t_env } => {
                let obj = args.into_iter().next().flatten();
                self.transform(node, obj, *t_env)
            }
            Func::Chain(first, second) => {
                let mid = self.apply_func(first, args, input, env)?;
                self.apply_func(second, vec![mid], input, env)
            }
        }
    }

    /// Calls a function value from a higher-order builtin with `value, index, array` trimmed
    /// to what it declares.
    pub(crate) fn call_hof(
        &self,
        func: &Rc<Func<'a>>,
        args: [Option<Value<'a>>; 3],
        env: EnvId,
    ) -> Out<'a> {
        let arity = func.arity();
        let mut call = Vec::with_capacity(3);
        let [a, b, c] = args;
        call.push(a);
        if arity >= 2 {
            call.push(b);
        }
        if arity >= 3 {
            call.push(c);
        }
        self.apply_func(func, call, &None, env)
    }

    // -----------------------------------------------------------------------------------------
    // transform

    fn transform(&self, node: &'a Node, obj: Input<'a>, env: EnvId) -> Out<'a> {
        let Kind::Transform(pattern, update, delete) = &node.kind else {
            return Ok(None);
        };
        let Some(obj) = obj else { return Ok(None) };
        let clone = self.lookup(env, "clone");
        let result = match &clone {
            Some(Value::Func(f)) => match &**f {
                Func::Builtin(Builtin::Clone) => Some(functions::deep_clone(&obj)),
                _ => self.apply_func(f, vec![Some(obj)], &None, env)?,
            },
            _ => return Err(Error::new("T2013").at(node.position)),
        };
        let matches = self.eval(pattern, &result, env)?;
        let Some(matches) = matches else {
            return Ok(result);
        };
        let matches: Vec<Value<'a>> = match matches.as_array() {
            Some(a) => a.to_vec(),
            None => vec![matches],
        };
        // changes keyed by object identity, applied when the clone is rebuilt
        let mut changes: Vec<(*const Object<'a>, Object<'a>, Vec<String>)> = Vec::new();
        for m in &matches {
            let upd = self.eval(update, &Some(m.clone()), env)?;
            let mut set = Object::default();
            if let Some(u) = upd {
                match u.as_object() {
                    Some(o) => {
                        for (k, v) in o.iter() {
                            set.insert(k, v);
                        }
                    }
                    None => {
                        return Err(Error::new("T2011").at(update.position).value(describe(&u)));
                    }
                }
            }
            let mut deletions = Vec::new();
            if let Some(d) = delete
                && let Some(del) = self.eval(d, &Some(m.clone()), env)?
            {
                let list: Vec<Value<'a>> = match del.as_array() {
                    Some(a) => a.to_vec(),
                    None => vec![del.clone()],
                };
                if !list.iter().all(Value::is_string) {
                    return Err(Error::new("T2012").at(d.position).value(describe(&del)));
                }
                deletions = list
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect();
            }
            if let Value::Object(o) = m {
                changes.push((Rc::as_ptr(o), set, deletions));
            }
        }
        Ok(result.map(|r| rebuild(&r, &changes, 0)))
    }
}

fn rebuild<'a>(
    value: &Value<'a>,
    changes: &[(*const Object<'a>, Object<'a>, Vec<String>)],
    depth: usize,
) -> Value<'a> {
    if depth > 10_000 {
        return value.clone();
    }
    match value {
        Value::Object(o) => {
            let mut out = Object::with_capacity(o.len());
            for (k, v) in o.iter() {
                out.insert(k.clone(), rebuild(v, changes, depth + 1));
            }
            let ptr = Rc::as_ptr(o);
            for (p, set, deletions) in changes {
                if *p == ptr {
                    for (k, v) in set.iter() {
                        out.insert(k.clone(), v.clone());
                    }
                    for d in deletions {
                        out.remove(d);
                    }
                }
            }
            Value::object(out)
        }
        Value::Array(a) => Value::array(
            a.items
                .iter()
                .map(|v| rebuild(v, changes, depth + 1))
                .collect(),
            a.flags.get(),
        ),
        other => other.clone(),
    }
}

fn merge_sort(items: &mut Vec<usize>, swap: &dyn Fn(usize, usize) -> Result<bool>) -> Result<()> {
    if items.len() <= 1 {
        return Ok(());
    }
    let mid = items.len() / 2;
    let mut right = items.split_off(mid);
    merge_sort(items, swap)?;
    merge_sort(&mut right, swap)?;
    let left = std::mem::take(items);
    let (mut i, mut j) = (0, 0);
    items.reserve(left.len() + right.len());
    while i < left.len() && j < right.len() {
        if swap(left[i], right[j])? {
            items.push(right[j]);
            j += 1;
        } else {
            items.push(left[i]);
            i += 1;
        }
    }
    items.extend_from_slice(&left[i..]);
    items.extend_from_slice(&right[j..]);
    Ok(())
}

/// Stable merge sort with a fallible "should `a` come after `b`" predicate (JSONata's
/// comparator contract).
pub(crate) fn sort_values<'a>(
    items: Vec<Value<'a>>,
    swap: &mut dyn FnMut(&Value<'a>, &Value<'a>) -> Result<bool>,
) -> Result<Vec<Value<'a>>> {
    if items.len() <= 1 {
        return Ok(items);
    }
    let mut right = items;
    let left_part: Vec<Value<'a>> = right.drain(..right.len() / 2).collect();
    let left = sort_values(left_part, swap)?;
    let right = sort_values(right, swap)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut li = left.into_iter().peekable();
    let mut ri = right.into_iter().peekable();
    loop {
        match (li.peek(), ri.peek()) {
            (Some(l), Some(r)) => {
                if swap(l, r)? {
                    out.extend(ri.next());
                } else {
                    out.extend(li.next());
                }
            }
            (Some(_), None) => out.extend(li.next()),
            (None, Some(_)) => out.extend(ri.next()),
            (None, None) => break,
        }
    }
    Ok(out)
}

/// JavaScript compares strings by UTF-16 code units.
pub(crate) fn compare_js_strings(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

fn proc_name(procedure: &Node) -> String {
    match &procedure.kind {
        Kind::Path(steps) => match steps.first().map(|s| &s.kind) {
            Some(Kind::Name(n)) => n.clone(),
            _ => String::new(),
        },
        Kind::Variable(v) => v.clone(),
        _ => String::new(),
    }
}

pub(crate) fn tuple_get<'a>(tuple: &Value<'a>, key: &str) -> Option<Value<'a>> {
    tuple.as_object().and_then(|o| o.get(key))
}

fn reduce_tuple_stream<'a>(data: Input<'a>) -> Input<'a> {
    let data = data?;
    let Some(items) = data.as_array() else {
        return Some(data);
    };
    let mut iter = items.iter();
    let first = iter.next()?;
    let mut result = first.as_object().map(|o| o.to_object()).unwrap_or_default();
    for t in iter {
        if let Some(o) = t.as_object() {
            for (k, v) in o.iter() {
                let merged = functions::append(result.get(&k).cloned(), Some(v));
                if let Some(m) = merged {
                    result.insert(k, m);
                }
            }
        }
    }
    Some(Value::object(result))
}

/// `isNumeric`: a number that is not NaN; infinite numbers are an error (D1001).
pub(crate) fn is_numeric(v: &Value<'_>) -> Result<bool> {
    match v {
        Value::Number(n) if n.is_nan() => Ok(false),
        Value::Number(n) if n.is_infinite() => {
            Err(Error::new("D1001").value(crate::number::to_js_string(*n)))
        }
        Value::Number(_) => Ok(true),
        _ => Ok(false),
    }
}

/// Field lookup (`fn.lookup`): over arrays it maps and flattens one level.
pub(crate) fn lookup_field<'a>(input: Option<&Value<'a>>, key: &str) -> Option<Value<'a>> {
    let input = input?;
    if let Some(items) = input.as_array() {
        let mut out = Vec::new();
        for item in items.iter() {
            if let Some(res) = lookup_field(Some(&item), key) {
                match res.as_array() {
                    Some(a) => out.extend(a.iter()),
                    None => out.push(res),
                }
            }
        }
        return Some(Value::sequence(out));
    }
    input.as_object().and_then(|o| o.get(key))
}

fn flatten_into<'a>(value: Value<'a>, out: &mut Vec<Value<'a>>, depth: usize) {
    match value.as_array() {
        Some(a) if depth < 10_000 => {
            for item in a.iter() {
                flatten_into(item, out, depth + 1);
            }
        }
        _ => out.push(value),
    }
}

fn wildcard<'a>(input: Option<&Value<'a>>) -> Value<'a> {
    let mut out = Vec::new();
    let mut input = input.cloned();
    if let Some(v) = &input
        && v.has_flag(OUTER_WRAPPER)
        && let Some(first) = v.as_array().and_then(|a| a.get(0))
    {
        input = Some(first);
    }
    if let Some(v) = input {
        let values: Vec<Value<'a>> = if let Some(o) = v.as_object() {
            o.iter().map(|(_, v)| v).collect()
        } else if let Some(a) = v.as_array() {
            a.to_vec()
        } else {
            Vec::new()
        };
        for value in values {
            if value.is_array() {
                flatten_into(value, &mut out, 0);
            } else {
                out.push(value);
            }
        }
    }
    Value::sequence(out)
}

fn descendants<'a>(input: Option<&Value<'a>>) -> Option<Value<'a>> {
    let input = input?;
    let mut out = Vec::new();
    recurse_descendants(input.clone(), &mut out, 0);
    if out.len() == 1 {
        return out.pop();
    }
    Some(Value::sequence(out))
}

fn recurse_descendants<'a>(input: Value<'a>, out: &mut Vec<Value<'a>>, depth: usize) {
    if depth > 10_000 {
        return;
    }
    if let Some(a) = input.as_array() {
        for item in a.iter() {
            recurse_descendants(item, out, depth + 1);
        }
        return;
    }
    out.push(input.clone());
    if let Some(o) = input.as_object() {
        for (_, v) in o.iter() {
            recurse_descendants(v, out, depth + 1);
        }
    }
}
