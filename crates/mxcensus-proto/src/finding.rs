//! Failure classes and findings: the shared vocabulary of every parser and matcher.
//!
//! Each area (TXT record, policy body, TLS-RPT, ...) declares its classes with
//! [`failure_classes!`](crate::failure_classes), which gives every variant a stable
//! `snake_case` code, a severity, the RFC section it comes from and a one-line fix, all in
//! one place. Codes are a contract with the dataset: append new ones, never rename.

use std::fmt;

/// How much a finding matters to the verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The input is invalid under the RFC: a sender would not use it.
    Error,
    /// Valid, but fragile or read differently by some implementations.
    Warning,
    /// Worth knowing; no effect on validity.
    Info,
}

impl Severity {
    /// The lowercase name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A closed set of failure classes with stable codes.
pub trait FailureClass: Copy + Eq + fmt::Debug + 'static {
    /// Every class of this kind, in declaration order.
    const ALL: &'static [Self];
    /// The stable `snake_case` code stored in datasets.
    fn code(self) -> &'static str;
    /// The severity of a finding of this class.
    fn severity(self) -> Severity;
    /// The RFC section (or project rule) the class comes from.
    fn reference(self) -> &'static str;
    /// A one-line fix for the publisher.
    fn fix(self) -> &'static str;
    /// Looks a class up by its code.
    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.code() == code)
    }
}

/// One finding: a class plus the detail that explains this occurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding<C> {
    /// What went wrong (or is worth noting).
    pub class: C,
    /// Which part of the input, and why; for people, not for matching.
    pub detail: String,
}

impl<C: FailureClass> Finding<C> {
    /// A finding of `class` with an explanation.
    pub fn new(class: C, detail: impl Into<String>) -> Self {
        Finding {
            class,
            detail: detail.into(),
        }
    }

    /// The class's stable code.
    pub fn code(&self) -> &'static str {
        self.class.code()
    }

    /// The class's severity.
    pub fn severity(&self) -> Severity {
        self.class.severity()
    }
}

/// Declares a failure-class enum and its [`FailureClass`] table.
///
/// ```
/// mxcensus_proto::failure_classes! {
///     /// Example classes.
///     pub enum ExampleClass {
///         /// The thing is missing.
///         Missing = "missing", Error, "RFC 0000 §1", "Add the thing.";
///     }
/// }
/// use mxcensus_proto::finding::FailureClass;
/// assert_eq!(ExampleClass::Missing.code(), "missing");
/// ```
#[macro_export]
macro_rules! failure_classes {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $code:literal, $sev:ident, $reference:literal, $fix:literal;
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        $vis enum $name {
            $(
                $(#[$vmeta])*
                $variant,
            )+
        }

        impl $crate::finding::FailureClass for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }
            fn severity(self) -> $crate::finding::Severity {
                match self { $($name::$variant => $crate::finding::Severity::$sev),+ }
            }
            fn reference(self) -> &'static str {
                match self { $($name::$variant => $reference),+ }
            }
            fn fix(self) -> &'static str {
                match self { $($name::$variant => $fix),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($crate::finding::FailureClass::code(*self))
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($crate::finding::FailureClass::code(*self))
            }
        }
    };
}

/// Asserts that a class table is well formed: codes unique and `snake_case`, references
/// and fixes present. Each area calls it from a unit test.
pub fn check_class_table<C: FailureClass>() -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for c in C::ALL {
        let code = c.code();
        if !seen.insert(code) {
            return Err(format!("duplicate code {code}"));
        }
        let snake = !code.is_empty()
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !code.starts_with('_')
            && !code.ends_with('_');
        if !snake {
            return Err(format!("code {code:?} is not snake_case"));
        }
        if c.reference().is_empty() || c.fix().is_empty() {
            return Err(format!("code {code} lacks a reference or a fix"));
        }
        if C::from_code(code) != Some(*c) {
            return Err(format!("from_code({code}) does not round-trip"));
        }
    }
    Ok(())
}
