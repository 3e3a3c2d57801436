//! A block-style YAML `kind: List` (what `kubectl get -o yaml` prints) read item by item: the
//! items of the root mapping's `items` sequence are cut at their entry lines and read by the
//! block fast path ([`block::list_item`]) on one thread per core, in rounds, and handed on in
//! order, so the List is never one value tree. The values, lines and node counts are those
//! [`block::document`] gives for the whole document, which are the full parser's; anything
//! the cut or the fast path does not take sends the text back to [`super::load`].

use serde_json::Value;

use super::json::Streamed;
use super::{Budgets, ListItems, ObjectSink, block, list_kind, parse_in_rounds};

/// From this many items a List's items are parsed on several threads.
const PARALLEL_MIN_ITEMS: usize = 64;

/// Reads `text` as one block-style YAML List document, handing each object to `sink`, with up
/// to `workers` threads. [`Streamed::NotAList`] when the text is not such a document (nothing
/// was handed on), [`Streamed::Failed`] when it went wrong part way (it must be read again).
pub(super) fn stream_list(
    source_name: &str,
    text: &str,
    budgets: &Budgets,
    sink: &mut dyn ObjectSink,
    workers: usize,
) -> Streamed {
    let Some(cut) = cut_list(text) else {
        return Streamed::NotAList;
    };
    let Some(root) = read_root(text, &cut, budgets) else {
        return Streamed::NotAList;
    };
    let mut items = ListItems {
        source_name,
        line: root.line,
        item_lines: &[],
        api_version: &root.api_version,
        item_kind: root.item_kind.as_deref(),
        next: 0,
        skipped: Vec::new(),
        sink,
    };
    let mut nodes = root.nodes;
    let workers = if cut.items.len() < PARALLEL_MIN_ITEMS {
        1
    } else {
        workers
    };
    let read = parse_in_rounds(
        &cut.items,
        workers,
        |part| read_items(text, part, budgets),
        |part| {
            for (value, line, item_nodes) in part {
                nodes = nodes.saturating_add(item_nodes);
                if nodes > budgets.max_nodes {
                    return false;
                }
                items.item_on_line(value, line);
            }
            true
        },
    );
    if !read {
        return Streamed::Failed;
    }
    Streamed::Done(items.skipped)
}

/// Where a List document's parts lie in its text.
struct ListCut {
    /// Byte ranges of the root mapping's own lines, in order, without the items' lines:
    /// before `items:`, then after the sequence.
    before: (usize, usize),
    after: (usize, usize),
    /// Each item: its byte range (from its entry line to the next entry) and its first
    /// line, from 1.
    items: Vec<Item>,
}

#[derive(Clone, Copy)]
struct Item {
    start: usize,
    end: usize,
    line: usize,
}

/// Finds the root mapping's `items:` line and the entries of its block sequence. `None`
/// unless the text is one document (a leading `---` at most) of plain text whose root is a
/// block mapping at column 0 with `items:` followed by a block sequence of at least one
/// entry, and the next line at column 0 after the sequence is another root key.
fn cut_list(text: &str) -> Option<ListCut> {
    if text.starts_with('%') || text.contains("\n%") || text.contains('\r') {
        return None;
    }
    let mut lines = LineIter {
        text,
        at: 0,
        line: 0,
    };
    let mut first_content = true;
    let mut items_line = None;
    // Find `items:` at column 0, checking the document's shape on the way.
    for (start, end, line) in lines.by_ref() {
        let content = &text[start..end];
        let trimmed = content.trim_start_matches(' ');
        if block::is_marker(content) {
            if !first_content || line != 1 {
                return None;
            }
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        first_content = false;
        if trimmed.len() == content.len()
            && let Some((key, after)) = block::key(content)
            && key == "items"
        {
            let rest = after.trim_start_matches(' ');
            if !(rest.is_empty() || rest.starts_with('#')) {
                return None;
            }
            items_line = Some(end);
            break;
        }
    }
    let before_end = items_line?;
    let before = (0, before_end);
    let mut items: Vec<Item> = Vec::new();
    let mut indent = None;
    let mut after = (text.len(), text.len());
    for (start, end, line) in lines {
        let content = &text[start..end];
        let trimmed = content.trim_start_matches(' ');
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if block::is_marker(content) {
            return None;
        }
        let at = content.len() - trimmed.len();
        let entry = block::is_entry(trimmed);
        let indent = *indent.get_or_insert(at);
        if at == indent && entry {
            if let Some(last) = items.last_mut() {
                last.end = start;
            }
            items.push(Item {
                start,
                end: text.len(),
                line,
            });
        } else if at <= indent {
            // The sequence ends: the rest must be the root mapping's.
            if at != 0 || items.is_empty() {
                return None;
            }
            if let Some(last) = items.last_mut() {
                last.end = start;
            }
            after = (start, text.len());
            break;
        } else if items.is_empty() {
            return None;
        }
    }
    if items.is_empty() {
        return None;
    }
    // No second document after the sequence.
    if text[after.0..].split('\n').any(block::is_marker) {
        return None;
    }
    Some(ListCut {
        before,
        after,
        items,
    })
}

/// Lines of a text: byte range without the line break, and the line number from 1.
struct LineIter<'t> {
    text: &'t str,
    at: usize,
    line: usize,
}

impl Iterator for LineIter<'_> {
    type Item = (usize, usize, usize);

    fn next(&mut self) -> Option<(usize, usize, usize)> {
        if self.at >= self.text.len() {
            return None;
        }
        let start = self.at;
        let end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        self.at = end + 1;
        self.line += 1;
        Some((start, end, self.line))
    }
}

/// The root mapping without its items: what the List says about them.
struct Root {
    line: usize,
    api_version: String,
    item_kind: Option<String>,
    nodes: usize,
}

/// Reads the root mapping with `items: []` in place of the sequence (the same nodes: the key
/// and a sequence), through the fast path. `None` unless it reads and is a List.
fn read_root(text: &str, cut: &ListCut, budgets: &Budgets) -> Option<Root> {
    let mut lines: Vec<&str> = text[cut.before.0..cut.before.1].split('\n').collect();
    // The `items:` line itself is the last of `before`.
    lines.pop();
    lines.push("items: []");
    let after = &text[cut.after.0..cut.after.1];
    let last_line_ends = after.is_empty() || after.ends_with('\n');
    if !after.is_empty() {
        lines.extend(after.strip_suffix('\n').unwrap_or(after).split('\n'));
    }
    if !lines.iter().all(|l| block::plain_text(l)) {
        return None;
    }
    let doc = block::document(&lines, last_line_ends, budgets.max_depth, budgets.max_nodes)?;
    let Value::Object(map) = doc.value else {
        return None;
    };
    let item_kind = list_kind(&map)?;
    let api_version = map
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Some(Root {
        line: doc.line + 1,
        api_version,
        item_kind,
        nodes: doc.nodes,
    })
}

/// Reads the items at `spans`: each value, its line (from 1) and its nodes. `None` when one
/// does not read by the fast path.
fn read_items(text: &str, spans: &[Item], budgets: &Budgets) -> Option<Vec<(Value, usize, usize)>> {
    let mut out = Vec::with_capacity(spans.len());
    let mut lines: Vec<&str> = Vec::new();
    for item in spans {
        let chunk = &text[item.start..item.end];
        let ends = chunk.ends_with('\n');
        lines.clear();
        lines.extend(chunk.strip_suffix('\n').unwrap_or(chunk).split('\n'));
        if !lines.iter().all(|l| block::plain_text(l)) {
            return None;
        }
        let doc = block::list_item(&lines, ends, budgets.max_depth, budgets.max_nodes)?;
        out.push((doc.value, item.line + doc.line, doc.nodes));
    }
    Some(out)
}
