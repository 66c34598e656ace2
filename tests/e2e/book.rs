//! The user guide (`docs/book`, an mdBook) builds, and every link in it resolves: a link to
//! another page of the book, with or without `#fragment`, reaches an existing page and an element
//! `id` on it; a `#fragment` on the same page names an element of that page; a link out of the
//! book to a file of the repository (`../../ARCHITECTURE.md`, a source file) names a file that
//! exists, and a `#fragment` on a Markdown file names one of its headings.
//!
//! mdbook itself checks none of this. Without mdbook the build test is skipped, saying how to
//! install it, unless `RELGATE_REQUIRE_TOOLS=1`; the checker's own tests run without it.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use crate::support::skip;

/// Pages mdbook writes beside the chapters: `print.html` repeats every chapter with its links
/// rewritten, `404.html` links from the site's root; `toc.html` (the sidebar) is checked.
const GENERATED: [&str; 2] = ["print.html", "404.html"];

/// A link that does not resolve.
#[derive(Debug, PartialEq, Eq)]
struct Broken {
    /// The page it is on, relative to the built book.
    page: String,
    href: String,
    why: String,
}

/// What the checker looked at: broken links, and how many links it followed, so that a check
/// that found nothing to check cannot pass.
#[derive(Debug, Default)]
struct Report {
    broken: Vec<Broken>,
    /// Links to another page of the book.
    pages: usize,
    /// Links with a `#fragment` into the book (on the same page or another).
    fragments: usize,
    /// Links out of the book to a file of the repository.
    repository: usize,
}

impl Report {
    /// Each broken link as (page, href).
    fn links(&self) -> Vec<(&str, &str)> {
        self.broken
            .iter()
            .map(|broken| (broken.page.as_str(), broken.href.as_str()))
            .collect()
    }
}

/// The built book in `html` (mdbook's output of the sources in `src`), inside `repo`.
struct Book<'a> {
    html: &'a Path,
    src: &'a Path,
    repo: &'a Path,
}

impl Book<'_> {
    fn check(&self) -> Report {
        let mut pages = Vec::new();
        html_files(self.html, &mut pages);
        pages.sort();
        let mut ids: HashMap<PathBuf, HashSet<String>> = HashMap::new();
        let mut report = Report::default();
        for page in pages {
            let relative = page.strip_prefix(self.html).unwrap().to_path_buf();
            if GENERATED.iter().any(|name| relative == Path::new(name)) {
                continue;
            }
            let text = std::fs::read_to_string(&page).unwrap();
            for href in attribute_values(&text, "href") {
                if let Err(why) = self.follow(&page, &relative, &href, &mut ids, &mut report) {
                    report.broken.push(Broken {
                        page: relative.display().to_string(),
                        href,
                        why,
                    });
                }
            }
        }
        report
    }

    /// Follows one link of `page`; `Err` says why it does not resolve.
    fn follow(
        &self,
        page: &Path,
        relative: &Path,
        href: &str,
        ids: &mut HashMap<PathBuf, HashSet<String>>,
        report: &mut Report,
    ) -> Result<(), String> {
        let href = href.replace("&amp;", "&");
        if href.contains("://") || href.starts_with("mailto:") {
            return Ok(());
        }
        if href.starts_with('/') {
            return Err("an absolute path does not work wherever the book is served".into());
        }
        // mdbook writes paths and ids as they are (no percent-encoding): a `%` stays and
        // cannot resolve.
        let (path, fragment) = match href.split_once('#') {
            Some((path, fragment)) => (path.to_string(), Some(fragment.to_string())),
            None => (href.clone(), None),
        };
        let target = if path.is_empty() {
            page.to_path_buf()
        } else {
            normalize(&page.parent().unwrap().join(&path))
        };
        if target.starts_with(self.html) {
            if target != page && target.extension().is_some_and(|ext| ext == "html") {
                report.pages += 1;
            }
            if !target.is_file() {
                return Err(format!("no page {}", display(&target, self.html)));
            }
            if let Some(fragment) = fragment.filter(|fragment| !fragment.is_empty()) {
                report.fragments += 1;
                let known = ids.entry(target.clone()).or_insert_with(|| {
                    let text = std::fs::read_to_string(&target).unwrap_or_default();
                    attribute_values(&text, "id").into_iter().collect()
                });
                if !known.contains(&fragment) {
                    return Err(format!(
                        "no element id `{fragment}` on {}",
                        display(&target, self.html)
                    ));
                }
            }
            return Ok(());
        }
        // Out of the book: the link as written in the page's source, from the source's folder.
        report.repository += 1;
        let source_dir = self.src.join(relative).parent().unwrap().to_path_buf();
        let mut file = normalize(&source_dir.join(&path));
        if !file.starts_with(self.repo) {
            return Err("leaves the repository".into());
        }
        // mdbook writes a link to `X.md` as `X.html`, also out of the book.
        if !file.exists() && file.extension().is_some_and(|ext| ext == "html") {
            file.set_extension("md");
        }
        if !file.exists() {
            return Err(format!(
                "no file {} in the repository",
                display(&file, self.repo)
            ));
        }
        if let Some(fragment) = fragment.filter(|fragment| !fragment.is_empty()) {
            if file.extension().is_some_and(|ext| ext == "md") {
                let text = std::fs::read_to_string(&file).unwrap();
                if !heading_slugs(&text).contains(&fragment) {
                    return Err(format!(
                        "no heading `#{fragment}` in {}",
                        display(&file, self.repo)
                    ));
                }
            }
        }
        Ok(())
    }
}

fn display(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn html_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            html_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "html") {
            files.push(path);
        }
    }
}

/// The values of every ` name="…"` attribute in `html` (mdbook quotes with `"`).
fn attribute_values(html: &str, name: &str) -> Vec<String> {
    let needle = format!(" {name}=\"");
    let mut values = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&needle) {
        rest = &rest[start + needle.len()..];
        let end = rest.find('"').unwrap_or(rest.len());
        values.push(rest[..end].to_string());
        rest = &rest[end..];
    }
    values
}

/// `path` with `.` and `..` resolved without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The anchors GitHub gives a Markdown file's headings (outside code blocks): lower case,
/// punctuation dropped, spaces as `-`, a repeated one suffixed `-1`, `-2`…
fn heading_slugs(markdown: &str) -> HashSet<String> {
    let mut slugs = HashSet::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut fence = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            fence = !fence;
        }
        let Some(title) = line.strip_prefix('#').filter(|_| !fence) else {
            continue;
        };
        let title = title.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let slug: String = title
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let count = seen.entry(slug.clone()).or_insert(0);
        slugs.insert(match *count {
            0 => slug.clone(),
            n => format!("{slug}-{n}"),
        });
        *count += 1;
    }
    slugs
}

fn repo() -> PathBuf {
    normalize(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

/// `mdbook build BOOK --dest-dir DEST`; `None` (after saying why) without mdbook.
fn mdbook_build(book: &Path, dest: &Path) -> Option<()> {
    if !crate::support::runs("mdbook", &["--version"]) {
        skip("mdbook is not installed (`cargo xtask gate setup --tool mdbook`)");
        return None;
    }
    let output = Command::new("mdbook")
        .arg("build")
        .arg(book)
        .arg("--dest-dir")
        .arg(dest)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && !stderr.contains("WARN") && !stderr.contains("ERROR"),
        "mdbook build {}: {}\n{stderr}",
        book.display(),
        output.status
    );
    Some(())
}

#[test]
fn the_user_guide_builds_and_every_link_resolves() {
    let repo = repo();
    let dest = tempfile::tempdir().unwrap();
    if mdbook_build(&repo.join("docs/book"), dest.path()).is_none() {
        return;
    }
    let report = Book {
        html: dest.path(),
        src: &repo.join("docs/book/src"),
        repo: &repo,
    }
    .check();
    assert!(
        report.broken.is_empty(),
        "links of docs/book that do not resolve:\n{}",
        report
            .broken
            .iter()
            .map(|broken| format!("  {}: {} — {}", broken.page, broken.href, broken.why))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The sidebar (toc.html) and each page's next/previous links reach every chapter, the
    // pages link each other's sections, and link docs/ARCHITECTURE.md and source files: a
    // build that lost its pages or links cannot pass by having nothing to check.
    assert!(report.pages > 200, "{report:?}");
    assert!(report.fragments > 50, "{report:?}");
    assert!(report.repository >= 10, "{report:?}");
}

/// The relative links of a Markdown file at the root of `repo` that do not resolve: a file of
/// the repository, and for a `#fragment` on a Markdown file one of its headings; and how many
/// relative links it has.
fn markdown_broken_links(repo: &Path, markdown: &str) -> (Vec<String>, usize) {
    let mut broken = Vec::new();
    let mut checked = 0;
    for link in markdown.split("](").skip(1) {
        let target = &link[..link.find(')').unwrap_or(link.len())];
        if target.contains("://") {
            continue;
        }
        checked += 1;
        let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
        let file = repo.join(path);
        let resolves = file.exists()
            && (fragment.is_empty()
                || heading_slugs(&std::fs::read_to_string(&file).unwrap_or_default())
                    .contains(fragment));
        if !resolves {
            broken.push(target.to_string());
        }
    }
    (broken, checked)
}

/// The README is the entry into the book: each of its relative links resolves.
#[test]
fn every_relative_link_of_the_readme_resolves() {
    let repo = repo();
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let (broken, checked) = markdown_broken_links(&repo, &readme);
    assert!(
        broken.is_empty(),
        "README.md links that do not resolve: {broken:?}"
    );
    assert!(checked >= 20, "README.md has only {checked} relative links");
    let (broken, checked) = markdown_broken_links(
        &repo,
        "[ok](docs/book/src/getting-started.md#a-quickstart-gate) [gone](docs/book/src/gone.md) \
         [anchor](docs/ARCHITECTURE.md#no-such-heading) [web](https://example.com/x)",
    );
    assert_eq!(
        (broken, checked),
        (
            vec![
                "docs/book/src/gone.md".to_string(),
                "docs/ARCHITECTURE.md#no-such-heading".to_string()
            ],
            3
        )
    );
}

/// Writes each `(path, text)` under `root`, with its folders.
fn write_files(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// A tiny built book, as mdbook writes one: the checker finds each kind of broken link and
/// passes the good ones.
#[test]
fn the_checker_reports_each_broken_link_and_only_those() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    write_files(
        repo,
        &[
            (
                "docs/ARCHITECTURE.md",
                "# Architecture\n\n## Bird's-eye view\n\n```sh\n# not a heading\n```\n",
            ),
            (
                "docs/book/html/index.html",
                r##"<h1 id="intro">Intro</h1>
<a href="#intro">self</a> <a href="probes/jwt.html">page</a> <a href="probes/jwt.html#keys">anchor</a>
<a href="../../ARCHITECTURE.html">arch</a> <a href="../../ARCHITECTURE.md#birds-eye-view">arch heading</a>
<a href="https://example.com/missing">external</a> <link href="css/x.css">
<a href="#missing-anchor">1</a> <a href="probes/nope.html">2</a> <a href="probes/jwt.html#nope">3</a>
<a href="../../NOPE.md">4</a> <a href="../../ARCHITECTURE.md#not-a-heading">5</a>
<a href="../../../../../outside.md">6</a> <a href="/index.html">7</a>"##,
            ),
            ("docs/book/html/css/x.css", ""),
            (
                "docs/book/html/probes/jwt.html",
                r#"<h2 id="keys">Keys</h2><a href="../index.html#intro">back</a><a href="../index.html#keys">8</a>"#,
            ),
        ],
    );
    let report = Book {
        html: &repo.join("docs/book/html"),
        src: &repo.join("docs/book/src"),
        repo,
    }
    .check();
    let broken = report.links();
    assert_eq!(
        broken,
        [
            ("index.html", "#missing-anchor"),
            ("index.html", "probes/nope.html"),
            ("index.html", "probes/jwt.html#nope"),
            ("index.html", "../../NOPE.md"),
            ("index.html", "../../ARCHITECTURE.md#not-a-heading"),
            ("index.html", "../../../../../outside.md"),
            ("index.html", "/index.html"),
            ("probes/jwt.html", "../index.html#keys"),
        ],
        "{report:?}"
    );
    assert_eq!(
        report.broken[2].why,
        "no element id `nope` on probes/jwt.html"
    );
    assert_eq!(
        report.broken[3].why,
        "no file docs/NOPE.md in the repository"
    );
    assert_eq!(report.broken[5].why, "leaves the repository");
}

/// The same through mdbook: a real build of a book with a broken anchor and a broken repository
/// link builds without complaint, and the checker finds both.
#[test]
fn a_book_with_broken_links_builds_and_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    let book = repo.join("docs/book");
    write_files(
        &book,
        &[
            ("book.toml", "[book]\ntitle = \"t\"\n"),
            ("src/SUMMARY.md", "# Summary\n\n- [One](one.md)\n- [Two](two.md)\n"),
            (
                "src/one.md",
                "# One\n\n## Keys\n\n[two](two.md#two) [keys](#keys) [gone](two.md#gone) [arch](../../ARCHITECTURE.md)\n",
            ),
            ("src/two.md", "# Two\n\n[one](one.md#keys)\n"),
        ],
    );
    let dest = repo.join("html");
    let src = book.join("src");
    let check = || {
        Book {
            html: &dest,
            src: &src,
            repo,
        }
        .check()
    };
    if mdbook_build(&book, &dest).is_none() {
        return;
    }
    let report = check();
    let broken = report.links();
    // index.html is mdbook's copy of the first chapter.
    assert_eq!(
        broken,
        [
            ("index.html", "two.html#gone"),
            ("index.html", "../../ARCHITECTURE.html"),
            ("one.html", "two.html#gone"),
            ("one.html", "../../ARCHITECTURE.html"),
        ],
        "{report:?}"
    );
    assert_eq!(
        report.broken[3].why,
        "no file docs/ARCHITECTURE.md in the repository"
    );
    write_files(
        repo,
        &[
            ("docs/ARCHITECTURE.md", "# Architecture\n"),
            (
                "docs/book/src/one.md",
                "# One\n\n## Keys\n\n[two](two.md#two) [keys](#keys) [arch](../../ARCHITECTURE.md)\n",
            ),
        ],
    );
    mdbook_build(&book, &dest).unwrap();
    let report = check();
    assert!(report.broken.is_empty(), "{report:?}");
}
