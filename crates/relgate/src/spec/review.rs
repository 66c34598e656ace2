//! `[review]`: the allowed signers file reviews are checked against, where reviews are kept,
//! which packets need an approval (`require = true` for all, or a list of ids) and the
//! two-person rule.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use super::error::{SpecError, SpecErrorKind};
use super::model::ReviewConfig;
use super::raw::{RawRequire, RawReview};
use super::validate::Context;

/// Where reviews are kept, relative to the gate file's directory, unless `[review] dir` says
/// otherwise.
pub const DEFAULT_REVIEW_DIR: &str = ".relgate/approvals";

impl Context<'_> {
    /// The validated `[review]` section; `packets` maps every packet id to its span.
    pub(super) fn review(
        &self,
        raw: Option<&Spanned<RawReview>>,
        root: &Path,
        packets: &BTreeMap<String, Range<usize>>,
    ) -> Result<Option<ReviewConfig>, SpecError> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        let review = raw.get_ref();
        let path = |value: &Spanned<String>, key: &str| {
            if value.get_ref().trim().is_empty() {
                return Err(self.error(
                    value.span(),
                    key,
                    SpecErrorKind::InvalidValue,
                    format!("`{key}` is empty: name a file relative to the gate file"),
                ));
            }
            Ok(root.join(value.get_ref()))
        };
        let allowed_signers = path(&review.allowed_signers, "review.allowed_signers")?;
        let dir = match &review.dir {
            Some(dir) => path(dir, "review.dir")?,
            None => root.join(DEFAULT_REVIEW_DIR),
        };
        let required = match review
            .require
            .as_ref()
            .map(|require| (require.get_ref(), require.span()))
        {
            None | Some((RawRequire::All(false), _)) => Vec::new(),
            Some((RawRequire::All(true), _)) => packets.keys().cloned().collect(),
            Some((RawRequire::Packets(ids), span)) => {
                for id in ids {
                    if !packets.contains_key(id) {
                        return Err(self.error(
                            span,
                            "review.require",
                            SpecErrorKind::UnknownDependency,
                            format!("`review.require` names unknown packet `{id}`"),
                        ));
                    }
                }
                ids.clone()
            }
        };
        let (line, _) = self.locator.line_column(raw.span().start);
        Ok(Some(ReviewConfig {
            allowed_signers,
            dir,
            required,
            two_person: review.two_person.unwrap_or(true),
            line,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::spec::{parse, SpecError};

    const PACKETS: &str = "[[packet]]\nid = \"A\"\n[[packet]]\nid = \"B\"\ndepends_on = [\"A\"]\n";

    fn gate(review: &str) -> Result<crate::spec::Gate, SpecError> {
        parse(
            Path::new("/repo/packets.toml"),
            &format!("{PACKETS}{review}"),
        )
    }

    #[test]
    fn the_section_resolves_paths_and_requirements() {
        assert_eq!(gate("").unwrap().review, None);
        // Packet definitions are digested for reviews only.
        assert!(gate("").unwrap().packets[0].definition.is_none());
        let reviewed = gate("[review]\nallowed_signers = \"s\"\n").unwrap();
        let (a, b) = (&reviewed.packets[0], &reviewed.packets[1]);
        assert!(a.definition.is_some() && b.definition.is_some() && a.definition != b.definition);
        let review = gate("[review]\nallowed_signers = \".relgate/allowed_signers\"\n")
            .unwrap()
            .review
            .unwrap();
        assert_eq!(
            review.allowed_signers,
            PathBuf::from("/repo/.relgate/allowed_signers")
        );
        assert_eq!(review.dir, PathBuf::from("/repo/.relgate/approvals"));
        assert!(review.required.is_empty() && review.two_person);
        assert_eq!(review.line, 6);
        let all = gate("[review]\nallowed_signers = \"s\"\nrequire = true\ntwo_person = false\n")
            .unwrap()
            .review
            .unwrap();
        assert_eq!(all.required, ["A", "B"]);
        assert!(!all.two_person);
        let some =
            gate("[review]\nallowed_signers = \"s\"\nrequire = [\"B\"]\ndir = \"reviews\"\n")
                .unwrap()
                .review
                .unwrap();
        assert_eq!(some.required, ["B"]);
        assert_eq!(some.dir, PathBuf::from("/repo/reviews"));
    }

    #[test]
    fn mistakes_name_the_line_and_key() {
        let unknown = gate("[review]\nallowed_signers = \"s\"\nrequire = [\"C\"]\n").unwrap_err();
        assert_eq!(
            (unknown.line, unknown.key.as_deref()),
            (8, Some("review.require"))
        );
        assert!(unknown.message.contains("unknown packet `C`"), "{unknown}");
        let missing = gate("[review]\nrequire = true\n").unwrap_err();
        assert!(missing.to_string().contains("allowed_signers"), "{missing}");
        let wrong = gate("[review]\nallowed_signers = \"s\"\nrequire = \"yes\"\n").unwrap_err();
        assert_eq!(wrong.line, 8, "{wrong}");
        let empty = gate("[review]\nallowed_signers = \" \"\n").unwrap_err();
        assert_eq!(empty.key.as_deref(), Some("review.allowed_signers"));
        let typo = gate("[review]\nallowed_signers = \"s\"\ntwo_persons = true\n").unwrap_err();
        assert!(typo.to_string().contains("two_person"), "{typo}");
    }
}
