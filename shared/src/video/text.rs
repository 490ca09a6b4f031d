//! Text-mode video: a grid of character cells (glyph, colours, attributes) and a cursor.
//!
//! The controller keeps the last screen it sent and encodes only the cells that changed; the
//! browser applies updates to its own copy and repaints just those cells.
//!
//! ```text
//! update: kind (u8: 1 full, 2 delta, 3 scroll then delta) | cols (u16) | rows (u16)
//!         | cursor row (u16) | cursor col (u16) | cursor flags (u8: bit 0 visible)
//!         | [kind 3: rows scrolled up (u16)] | run count (varint) | runs
//! run:    row (u16) | col (u16) | span count (varint) | spans
//! span:   attrs (u8) | fg colour | bg colour | cell count (varint) | code points (varint each)
//! colour: 0 default | 1 index (u8) | 2 r g b (u8 each)
//! ```
//! A decoder validates a whole update before it changes its screen, so a bad update leaves the
//! screen as it was. Kind 3 covers the commonest text-console change, output scrolling the
//! screen: the decoder moves its rows up, then applies the runs, and the painter moves pixels
//! instead of redrawing every row.

use crate::wire::codec::{Reader, Writer};
use crate::wire::DecodeError;

pub const MAX_COLS: u16 = 1024;
pub const MAX_ROWS: u16 = 512;
/// Unchanged cells between two changed ones that are cheaper to resend than to start a new run.
const MERGE_GAP: usize = 4;

const KIND_FULL: u8 = 1;
const KIND_DELTA: u8 = 2;
const KIND_SCROLL_DELTA: u8 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Color {
    #[default]
    Default,
    Indexed(u8),
    Rgb(u8, u8, u8),
}

/// Cell attributes as bit flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Attrs(pub u8);

impl Attrs {
    pub const BOLD: u8 = 1;
    pub const ITALIC: u8 = 2;
    pub const UNDERLINE: u8 = 4;
    pub const INVERSE: u8 = 8;
    /// The first cell of a double-width character.
    pub const WIDE: u8 = 16;
    /// The cell covered by the right half of a double-width character.
    pub const WIDE_CONTINUATION: u8 = 32;
    pub const DIM: u8 = 64;

    pub fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Style {
    pub fg: Color,
    pub bg: Color,
    pub attrs: Attrs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cell {
    pub ch: char,
    pub style: Style,
}

impl Default for Cell {
    fn default() -> Self {
        Self { ch: ' ', style: Style::default() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    pub row: u16,
    pub col: u16,
    pub visible: bool,
}

/// A text screen: what the host shows and what the browser draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextScreen {
    cols: u16,
    rows: u16,
    cells: Vec<Cell>,
    pub cursor: Cursor,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("screen size {cols}x{rows} is outside 1x1 to {MAX_COLS}x{MAX_ROWS}")]
pub struct BadSize {
    pub cols: u16,
    pub rows: u16,
}

impl TextScreen {
    pub fn new(cols: u16, rows: u16) -> Result<Self, BadSize> {
        if cols == 0 || rows == 0 || cols > MAX_COLS || rows > MAX_ROWS {
            return Err(BadSize { cols, rows });
        }
        Ok(Self {
            cols,
            rows,
            cells: vec![Cell::default(); usize::from(cols) * usize::from(rows)],
            cursor: Cursor { row: 0, col: 0, visible: true },
        })
    }

    /// A blank screen of `cols` x `rows`, each brought into the valid range.
    pub fn clamped(cols: u16, rows: u16) -> Self {
        let (cols, rows) = (cols.clamp(1, MAX_COLS), rows.clamp(1, MAX_ROWS));
        Self {
            cols,
            rows,
            cells: vec![Cell::default(); usize::from(cols) * usize::from(rows)],
            cursor: Cursor { row: 0, col: 0, visible: true },
        }
    }

    pub fn cols(&self) -> u16 {
        self.cols
    }

    pub fn rows(&self) -> u16 {
        self.rows
    }

    /// The cell at (row, col); `None` outside the screen.
    pub fn cell(&self, row: u16, col: u16) -> Option<&Cell> {
        self.index(row, col).map(|i| &self.cells[i])
    }

    pub fn set(&mut self, row: u16, col: u16, cell: Cell) {
        if let Some(i) = self.index(row, col) {
            self.cells[i] = cell;
        }
    }

    pub fn row(&self, row: u16) -> &[Cell] {
        let start = usize::from(row.min(self.rows - 1)) * usize::from(self.cols);
        &self.cells[start..start + usize::from(self.cols)]
    }

    /// One row as text, trailing blanks trimmed.
    pub fn row_text(&self, row: u16) -> String {
        let text: String =
            self.row(row).iter().filter(|c| !c.style.attrs.has(Attrs::WIDE_CONTINUATION)).map(|c| c.ch).collect();
        text.trim_end().to_string()
    }

    /// The whole screen as text, one line per row: what "copy screen text" gives the user.
    pub fn text(&self) -> String {
        let mut lines: Vec<String> = (0..self.rows).map(|r| self.row_text(r)).collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        lines.join("\n")
    }

    /// Moves every row up by `k` (`0 < k < rows`), filling the bottom with blank cells.
    fn scroll_up(&mut self, k: u16) {
        let shift = usize::from(k) * usize::from(self.cols);
        self.cells.copy_within(shift.., 0);
        let len = self.cells.len();
        self.cells[len - shift..].fill(Cell::default());
    }

    fn row_hash(&self, row: u16) -> u64 {
        // FNV-1a over the cells: cheap, and only used to find candidate rows before comparing.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for cell in self.row(row) {
            let style = &cell.style;
            for v in [u32::from(cell.ch), color_key(style.fg), color_key(style.bg), u32::from(style.attrs.0)] {
                h = (h ^ u64::from(v)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        h
    }

    fn index(&self, row: u16, col: u16) -> Option<usize> {
        (row < self.rows && col < self.cols).then(|| usize::from(row) * usize::from(self.cols) + usize::from(col))
    }
}

/// Cells that changed in one update, so the painter redraws only these.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Damage {
    /// (row, first col, col past the end)
    pub spans: Vec<(u16, u16, u16)>,
    /// The grid changed size: repaint everything.
    pub resized: bool,
    /// Rows the whole screen moved up before the spans were applied (0: none).
    pub scrolled: u16,
    /// A cell that may still show the cursor's old image (after any scroll), to repaint.
    pub old_cursor: Option<Cursor>,
}

/// Encodes the whole screen: for a new viewer, or after a resize.
pub fn encode_full(screen: &TextScreen) -> Vec<u8> {
    let mut out = Vec::with_capacity(usize::from(screen.cols) * usize::from(screen.rows) * 2 + 16);
    header(&mut out, KIND_FULL, screen);
    out.put_varint(u32::from(screen.rows));
    for row in 0..screen.rows {
        encode_run(&mut out, row, 0, screen.row(row));
    }
    out
}

/// Encodes what changed from `prev` to `next`; `None` when nothing did. A size change gives a
/// full update; a scroll is sent as such when it saves rows.
pub fn encode_delta(prev: &TextScreen, next: &TextScreen) -> Option<Vec<u8>> {
    if prev.cols != next.cols || prev.rows != next.rows {
        return Some(encode_full(next));
    }
    let scroll = best_scroll(prev, next);
    let scrolled;
    let base = match scroll {
        Some(k) => {
            let mut s = prev.clone();
            s.scroll_up(k);
            scrolled = s;
            &scrolled
        }
        None => prev,
    };
    let runs = changed_runs(base, next);
    if runs.is_empty() && scroll.is_none() && prev.cursor == next.cursor {
        return None;
    }
    let mut out = Vec::with_capacity(64 + runs.len() * 16);
    match scroll {
        Some(k) => {
            header(&mut out, KIND_SCROLL_DELTA, next);
            out.put_u16(k);
        }
        None => header(&mut out, KIND_DELTA, next),
    }
    out.put_varint(runs.len() as u32);
    for (row, start, end) in runs {
        encode_run(&mut out, row, start as u16, &next.row(row)[start..end]);
    }
    Some(out)
}

/// The upward scroll that leaves the most rows of `next` already in place, if it beats not
/// scrolling at all.
fn best_scroll(prev: &TextScreen, next: &TextScreen) -> Option<u16> {
    let rows = prev.rows;
    let mut best_rows = (0..rows).filter(|&r| prev.row(r) == next.row(r)).count();
    // Scrolling by k keeps at most rows - k rows in place: with all but one row unchanged (a
    // keystroke's echo), no scroll can win, and the search is skipped.
    if best_rows + 1 >= usize::from(rows) {
        return None;
    }
    let before: Vec<u64> = (0..rows).map(|r| prev.row_hash(r)).collect();
    let after: Vec<u64> = (0..rows).map(|r| next.row_hash(r)).collect();
    let same = |r_next: u16, r_prev: u16| {
        after[usize::from(r_next)] == before[usize::from(r_prev)] && next.row(r_next) == prev.row(r_prev)
    };
    let mut best = None;
    for k in 1..rows {
        if usize::from(rows - k) <= best_rows {
            break;
        }
        let in_place = (0..rows - k).filter(|&r| same(r, r + k)).count();
        if in_place > best_rows {
            best = Some(k);
            best_rows = in_place;
        }
    }
    best
}

/// (row, first col, col past the end) of each run of changed cells.
fn changed_runs(prev: &TextScreen, next: &TextScreen) -> Vec<(u16, usize, usize)> {
    let mut runs = Vec::new();
    for row in 0..next.rows {
        let (a, b) = (prev.row(row), next.row(row));
        let mut col = 0;
        while col < a.len() {
            if a[col] == b[col] {
                col += 1;
                continue;
            }
            let start = col;
            let mut end = col + 1;
            let mut scan = end;
            while scan < a.len() && scan - end <= MERGE_GAP {
                if a[scan] != b[scan] {
                    end = scan + 1;
                }
                scan += 1;
            }
            runs.push((row, start, end));
            col = end;
        }
    }
    runs
}

fn header(out: &mut Vec<u8>, kind: u8, screen: &TextScreen) {
    out.put_u8(kind);
    out.put_u16(screen.cols);
    out.put_u16(screen.rows);
    out.put_u16(screen.cursor.row);
    out.put_u16(screen.cursor.col);
    out.put_u8(u8::from(screen.cursor.visible));
}

fn encode_run(out: &mut Vec<u8>, row: u16, col: u16, cells: &[Cell]) {
    out.put_u16(row);
    out.put_u16(col);
    let spans: Vec<&[Cell]> = cells.chunk_by(|a, b| a.style == b.style).collect();
    out.put_varint(spans.len() as u32);
    for span in spans {
        let style = span[0].style;
        out.put_u8(style.attrs.0);
        encode_color(out, style.fg);
        encode_color(out, style.bg);
        out.put_varint(span.len() as u32);
        for cell in span {
            out.put_varint(u32::from(cell.ch));
        }
    }
}

fn encode_color(out: &mut Vec<u8>, c: Color) {
    match c {
        Color::Default => out.put_u8(0),
        Color::Indexed(i) => {
            out.put_u8(1);
            out.put_u8(i);
        }
        Color::Rgb(r, g, b) => {
            out.put_u8(2);
            out.put_bytes(&[r, g, b]);
        }
    }
}

fn color_key(c: Color) -> u32 {
    match c {
        Color::Default => 1 << 24,
        Color::Indexed(i) => (2 << 24) | u32::from(i),
        Color::Rgb(r, g, b) => (3 << 24) | u32::from(r) << 16 | u32::from(g) << 8 | u32::from(b),
    }
}

fn decode_color(r: &mut Reader<'_>) -> Result<Color, DecodeError> {
    Ok(match r.u8("colour kind")? {
        0 => Color::Default,
        1 => Color::Indexed(r.u8("colour index")?),
        2 => Color::Rgb(r.u8("red")?, r.u8("green")?, r.u8("blue")?),
        other => return Err(DecodeError::Unknown { field: "colour kind", value: other }),
    })
}

struct Run {
    row: u16,
    col: u16,
    cells: Vec<Cell>,
}

/// Applies an update to `screen`. On error the screen is unchanged.
pub fn apply(screen: &mut TextScreen, update: &[u8]) -> Result<Damage, DecodeError> {
    let mut r = Reader::new(update);
    let kind = r.u8("text update kind")?;
    let cols = r.u16("cols")?;
    let rows = r.u16("rows")?;
    let cursor =
        Cursor { row: r.u16("cursor row")?, col: r.u16("cursor col")?, visible: r.u8("cursor flags")? & 1 != 0 };
    let resized = match kind {
        KIND_FULL => cols != screen.cols || rows != screen.rows,
        KIND_DELTA | KIND_SCROLL_DELTA if cols == screen.cols && rows == screen.rows => false,
        KIND_DELTA | KIND_SCROLL_DELTA => {
            return Err(DecodeError::Invalid {
                field: "text delta",
                reason: "screen size differs from the current one",
            })
        }
        other => return Err(DecodeError::Unknown { field: "text update kind", value: other }),
    };
    if cols == 0 || rows == 0 || cols > MAX_COLS || rows > MAX_ROWS {
        return Err(DecodeError::Invalid { field: "screen size", reason: "outside the supported range" });
    }
    let scroll = if kind == KIND_SCROLL_DELTA { r.u16("scroll")? } else { 0 };
    if kind == KIND_SCROLL_DELTA && (scroll == 0 || scroll >= rows) {
        return Err(DecodeError::Invalid { field: "scroll", reason: "not between one row and the screen height" });
    }
    let run_count = r.varint("run count")? as usize;
    // Each run takes at least 5 bytes, which bounds the count by the message size.
    if run_count > r.remaining() / 5 + 1 {
        return Err(DecodeError::Invalid { field: "run count", reason: "more runs than bytes" });
    }
    let mut runs = Vec::with_capacity(run_count);
    for _ in 0..run_count {
        let row = r.u16("run row")?;
        let col = r.u16("run col")?;
        if row >= rows || col >= cols {
            return Err(DecodeError::Invalid { field: "run position", reason: "outside the screen" });
        }
        let room = usize::from(cols - col);
        let mut cells = Vec::new();
        let span_count = r.varint("span count")?;
        for _ in 0..span_count {
            let attrs = Attrs(r.u8("attrs")?);
            let fg = decode_color(&mut r)?;
            let bg = decode_color(&mut r)?;
            let count = r.varint("cell count")? as usize;
            if cells.len() + count > room {
                return Err(DecodeError::Invalid { field: "run", reason: "runs past the end of the row" });
            }
            let style = Style { fg, bg, attrs };
            for _ in 0..count {
                let ch = char::from_u32(r.varint("code point")?)
                    .ok_or(DecodeError::Invalid { field: "code point", reason: "not a Unicode scalar value" })?;
                cells.push(Cell { ch, style });
            }
        }
        runs.push(Run { row, col, cells });
    }
    r.finish("text update")?;

    let old_cursor = screen.cursor;
    if resized {
        // Validated above, so this cannot fail; keep the old screen if it somehow did.
        *screen = TextScreen::new(cols, rows)
            .map_err(|_| DecodeError::Invalid { field: "screen size", reason: "outside the supported range" })?;
    }
    let mut damage = Damage { resized, scrolled: scroll, ..Damage::default() };
    let mut stale_cursor = Some(old_cursor);
    if scroll > 0 {
        screen.scroll_up(scroll);
        // The rows that scrolled in are blank now; they are redrawn whole.
        for row in rows - scroll..rows {
            damage.spans.push((row, 0, cols));
        }
        stale_cursor = old_cursor.row.checked_sub(scroll).map(|row| Cursor { row, ..old_cursor });
    }
    for run in runs {
        let start = usize::from(run.row) * usize::from(cols) + usize::from(run.col);
        screen.cells[start..start + run.cells.len()].copy_from_slice(&run.cells);
        damage.spans.push((run.row, run.col, run.col + run.cells.len() as u16));
    }
    screen.cursor = cursor;
    if old_cursor != cursor || scroll > 0 {
        damage.old_cursor = stale_cursor;
    }
    Ok(damage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(screen: &mut TextScreen, row: u16, col: u16, text: &str, style: Style) {
        for (i, ch) in text.chars().enumerate() {
            screen.set(row, col + i as u16, Cell { ch, style });
        }
    }

    #[test]
    fn full_then_delta_reproduces_the_screen() {
        let mut a = TextScreen::new(80, 25).unwrap();
        write(&mut a, 0, 0, "$ echo hello", Style::default());
        let mut browser = TextScreen::new(1, 1).unwrap();
        let damage = apply(&mut browser, &encode_full(&a)).unwrap();
        assert!(damage.resized);
        assert_eq!(browser, a);

        let mut b = a.clone();
        let red = Style { fg: Color::Indexed(1), bg: Color::Rgb(1, 2, 3), attrs: Attrs(Attrs::BOLD) };
        write(&mut b, 1, 0, "hello ✓", red);
        b.cursor = Cursor { row: 2, col: 2, visible: true };
        let delta = encode_delta(&a, &b).unwrap();
        let damage = apply(&mut browser, &delta).unwrap();
        assert_eq!(browser, b);
        assert_eq!(damage.spans, vec![(1, 0, 7)]);
        assert_eq!(browser.text(), "$ echo hello\nhello ✓");
        assert!(encode_delta(&b, &b).is_none());
    }

    #[test]
    fn a_small_change_gives_a_small_update() {
        let a = TextScreen::new(80, 25).unwrap();
        let mut b = a.clone();
        write(&mut b, 10, 40, "x", Style::default());
        assert!(encode_delta(&a, &b).unwrap().len() < 24);
    }

    #[test]
    fn output_scrolling_the_screen_is_sent_as_a_scroll() {
        let mut a = TextScreen::new(80, 25).unwrap();
        for row in 0..25 {
            write(&mut a, row, 0, &format!("line {row} of some shell output"), Style::default());
        }
        let mut b = a.clone();
        b.scroll_up(2);
        write(&mut b, 23, 0, "line 25 of some shell output", Style::default());
        write(&mut b, 24, 0, "$ ", Style::default());
        let delta = encode_delta(&a, &b).unwrap();
        assert_eq!(delta[0], KIND_SCROLL_DELTA);
        assert!(delta.len() < 64, "{} bytes", delta.len());
        assert!(encode_full(&b).len() > 10 * delta.len());
        let mut browser = a.clone();
        let damage = apply(&mut browser, &delta).unwrap();
        assert_eq!(browser, b);
        assert_eq!(damage.scrolled, 2);
    }

    #[test]
    fn a_bad_update_leaves_the_screen_alone() {
        let mut a = TextScreen::new(10, 2).unwrap();
        write(&mut a, 0, 0, "keep", Style::default());
        let before = a.clone();
        let mut full = encode_full(&TextScreen::new(10, 2).unwrap());
        full.truncate(full.len() - 1);
        assert!(apply(&mut a, &full).is_err());
        assert_eq!(a, before);
    }
}
