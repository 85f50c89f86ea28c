//! The headline verdict values of the `domains` table (DESIGN.md, "Headline columns").
//!
//! These strings are a contract shared by the crawler's output and simnet's ground truth:
//! agreement is a plain join on `domain`. Changing a value is a schema-version bump.

use std::fmt;
use std::str::FromStr;

/// A value string that is not one of an enum's documented values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {column} value")]
pub struct UnknownVerdict {
    /// The column the value was meant for.
    pub column: &'static str,
    /// The rejected text.
    pub value: String,
}

macro_rules! verdict_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $column:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in documentation order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The column this type fills.
            pub const COLUMN: &'static str = $column;

            /// The value as stored in Parquet.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownVerdict;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownVerdict { column: $column, value: s.to_owned() }),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

verdict_enum! {
    /// How the domain's mail hosts were learned (RFC 5321 §5.1, RFC 7505).
    MxStatus, "mx_status" {
        /// An MX RRset with at least one usable host.
        Ok = "ok",
        /// No MX RRset: the domain itself is the implicit MX.
        Implicit = "implicit",
        /// `MX 0 .`: the domain accepts no mail.
        NullMx = "null_mx",
        /// The MX RRset could not be had (SERVFAIL, timeout, bogus).
        Error = "error",
    }
}

verdict_enum! {
    /// The MTA-STS TXT record at `_mta-sts` (RFC 8461 §3.1).
    StsTxt, "sts_txt" {
        /// Exactly one STSv1 record, and it parses.
        Valid = "valid",
        /// NXDOMAIN, NODATA, or TXT records none of which is STSv1.
        Absent = "absent",
        /// One STSv1 record that does not parse.
        Invalid = "invalid",
        /// More than one STSv1 record: no policy (§3.1).
        Multiple = "multiple",
        /// The lookup failed (SERVFAIL, timeout, REFUSED, bogus).
        Error = "error",
    }
}

verdict_enum! {
    /// The policy fetched over HTTPS (RFC 8461 §3.2, §3.3).
    StsPolicy, "sts_policy" {
        /// Fetched under the rules and valid.
        Valid = "valid",
        /// Fetched, but the body is not a valid policy.
        Invalid = "invalid",
        /// The fetch failed (DNS, TCP, TLS, HTTP, body).
        FetchFailed = "fetch_failed",
        /// No valid TXT record, so no fetch.
        NotAttempted = "not_attempted",
    }
}

verdict_enum! {
    /// The policy mode (RFC 8461 §5).
    StsMode, "sts_mode" {
        /// Senders must not deliver to MX hosts that fail validation.
        Enforce = "enforce",
        /// Failures are reported, mail still flows.
        Testing = "testing",
        /// Treated as no policy.
        None = "none",
    }
}

verdict_enum! {
    /// How many MX hosts pass pattern + STARTTLS + certificate under the policy (SPEC §D).
    StsMxValid, "sts_mx_valid" {
        /// Every MX passes.
        All = "all",
        /// At least one passes, not all.
        Some = "some",
        /// No MX passes.
        None = "none",
    }
}

verdict_enum! {
    /// MX hosts that offer STARTTLS and complete a TLS handshake (RFC 3207).
    Starttls, "starttls" {
        /// Every MX.
        All = "all",
        /// At least one MX, not all.
        Some = "some",
        /// No MX.
        None = "none",
        /// The MX set could not be learned.
        Error = "error",
    }
}

verdict_enum! {
    /// The TLS-RPT record at `_smtp._tls` (RFC 8460 §3).
    TlsRpt, "tlsrpt" {
        /// Exactly one TLSRPTv1 record, and it parses.
        Valid = "valid",
        /// NXDOMAIN, NODATA, or no TLSRPTv1 record.
        Absent = "absent",
        /// One TLSRPTv1 record that does not parse.
        Invalid = "invalid",
        /// More than one TLSRPTv1 record.
        Multiple = "multiple",
        /// The lookup failed.
        Error = "error",
    }
}

verdict_enum! {
    /// DNSSEC status of the domain's MX RRset (RFC 4035 §4.3).
    Dnssec, "dnssec" {
        /// Validated chain of trust (AD=1).
        Secure = "secure",
        /// Validated proof that the chain ends (AD=0 from a validating resolver).
        Insecure = "insecure",
        /// Should validate but fails (SERVFAIL, data with CD=1).
        Bogus = "bogus",
        /// The answer could not be had.
        Error = "error",
        /// The resolver does not validate, so status cannot be told.
        Unknown = "unknown",
    }
}

verdict_enum! {
    /// MX hosts whose TLSA is usable and matches the served certificate (SPEC §F).
    Dane, "dane" {
        /// Every MX is DANE-valid.
        All = "all",
        /// Some MX hosts are DANE-valid, not all.
        Partial = "partial",
        /// No usable TLSA, or the MX RRset is insecure.
        None = "none",
        /// Usable TLSA that does not match, or bogus/failed TLSA lookups.
        Broken = "broken",
        /// The MX set could not be learned.
        Error = "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T>(all: &[T])
    where
        T: Copy + fmt::Display + FromStr<Err = UnknownVerdict> + PartialEq + fmt::Debug,
    {
        for v in all {
            assert_eq!(v.to_string().parse::<T>(), Ok(*v));
        }
    }

    #[test]
    fn values_round_trip() {
        round_trip(MxStatus::ALL);
        round_trip(StsTxt::ALL);
        round_trip(StsPolicy::ALL);
        round_trip(StsMode::ALL);
        round_trip(StsMxValid::ALL);
        round_trip(Starttls::ALL);
        round_trip(TlsRpt::ALL);
        round_trip(Dnssec::ALL);
        round_trip(Dane::ALL);
    }

    #[test]
    fn headline_values_are_the_contract() {
        let got: Vec<_> = Dane::ALL.iter().map(|d| d.as_str()).collect();
        assert_eq!(got, ["all", "partial", "none", "broken", "error"]);
        let got: Vec<_> = MxStatus::ALL.iter().map(|d| d.as_str()).collect();
        assert_eq!(got, ["ok", "implicit", "null_mx", "error"]);
        assert!("Valid".parse::<StsTxt>().is_err());
    }
}
