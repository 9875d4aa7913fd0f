//! The processed syntax tree the evaluator walks: location paths flattened into steps,
//! predicates attached to their steps as stages, grouping/sorting/binding annotations, parent
//! (`%`) slots resolved, tail calls marked.

use crate::signature::Signature;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Concat,
    And,
    Or,
    In,
    Range,
}

impl BinOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Mod => "%",
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Concat => "&",
            Self::And => "and",
            Self::Or => "or",
            Self::In => "in",
            Self::Range => "..",
        }
    }

    pub(crate) fn from_symbol(op: &str) -> Option<Self> {
        Some(match op {
            "+" => Self::Add,
            "-" => Self::Sub,
            "*" => Self::Mul,
            "/" => Self::Div,
            "%" => Self::Mod,
            "=" => Self::Eq,
            "!=" => Self::Ne,
            "<" => Self::Lt,
            "<=" => Self::Le,
            ">" => Self::Gt,
            ">=" => Self::Ge,
            "&" => Self::Concat,
            "and" => Self::And,
            "or" => Self::Or,
            "in" => Self::In,
            ".." => Self::Range,
            _ => return None,
        })
    }
}

#[derive(Debug)]
pub(crate) struct Lambda {
    pub params: Vec<String>,
    pub signature: Option<Signature>,
    pub body: Node,
}

#[derive(Debug)]
pub(crate) struct SortTerm {
    pub descending: bool,
    pub expr: Node,
}

#[derive(Debug)]
pub(crate) struct Group {
    pub pairs: Vec<(Node, Node)>,
    pub position: usize,
}

#[derive(Debug)]
pub(crate) enum Stage {
    Filter(Node),
    Index(String),
}

#[derive(Debug)]
pub(crate) struct RegexLit {
    pub regex: regex::Regex,
    pub source: String,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Path(Vec<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    Negate(Box<Node>),
    Array(Vec<Node>),
    Object(Vec<(Node, Node)>),
    Name(String),
    String(String),
    Number(f64),
    Bool(bool),
    Null,
    Wildcard,
    Descendant,
    /// `%`: index into the expression's slot table.
    Parent(usize),
    Condition(Box<Node>, Box<Node>, Option<Box<Node>>),
    Block(Vec<Node>),
    Bind(String, Box<Node>),
    Regex(Box<RegexLit>),
    Function(Box<Node>, Vec<Node>),
    Partial(Box<Node>, Vec<Node>),
    /// The `?` placeholder of a partial application.
    Placeholder,
    Variable(String),
    Lambda(Box<Lambda>),
    /// A tail call: a function invocation in tail position of a lambda body.
    Thunk(Box<Node>),
    Apply(Box<Node>, Box<Node>),
    Transform(Box<Node>, Box<Node>, Option<Box<Node>>),
    Sort(Vec<SortTerm>),
}

#[derive(Debug)]
pub(crate) struct Node {
    pub kind: Kind,
    pub position: usize,
    pub keep_array: bool,
    /// Filters on a non-step expression (`expr[pred]`).
    pub predicate: Vec<Node>,
    /// Filters and index bindings on a path step.
    pub stages: Vec<Stage>,
    pub group: Option<Box<Group>>,
    pub focus: Option<String>,
    pub index: Option<String>,
    pub tuple: bool,
    /// Slot whose label binds this step's input, for `%` in later steps.
    pub ancestor: Option<usize>,
    pub consarray: bool,
    pub keep_singleton_array: bool,
    pub seeking_parent: Vec<usize>,
}

impl Node {
    pub(crate) fn new(kind: Kind, position: usize) -> Self {
        Self {
            kind,
            position,
            keep_array: false,
            predicate: Vec::new(),
            stages: Vec::new(),
            group: None,
            focus: None,
            index: None,
            tuple: false,
            ancestor: None,
            consarray: false,
            keep_singleton_array: false,
            seeking_parent: Vec::new(),
        }
    }

    pub(crate) fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Path(_) => "path",
            Kind::Binary(..) => "binary",
            Kind::Negate(_) | Kind::Array(_) | Kind::Object(_) => "unary",
            Kind::Name(_) => "name",
            Kind::String(_) => "string",
            Kind::Number(_) => "number",
            Kind::Bool(_) | Kind::Null => "value",
            Kind::Wildcard => "wildcard",
            Kind::Descendant => "descendant",
            Kind::Parent(_) => "parent",
            Kind::Condition(..) => "condition",
            Kind::Block(_) => "block",
            Kind::Bind(..) => "bind",
            Kind::Regex(_) => "regex",
            Kind::Function(..) => "function",
            Kind::Partial(..) => "partial",
            Kind::Placeholder => "operator",
            Kind::Variable(_) => "variable",
            Kind::Lambda(_) | Kind::Thunk(_) => "lambda",
            Kind::Apply(..) => "apply",
            Kind::Transform(..) => "transform",
            Kind::Sort(_) => "sort",
        }
    }
}
