mod parser;
mod properties;
