//! Column-aligned text tables for human-readable output.
//!
//! Columns are separated by at least two spaces and left-aligned, so the output reads well in
//! a terminal and still splits on whitespace in scripts (`awk '{print $1}'`). Empty cells are
//! written as `-` for the same reason.

use std::io::{self, Write};

/// A table: a header row and data rows.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new<I, S>(header: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are blank, extra cells are kept).
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// Writes the table.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let cell = |row: &[String], i: usize| -> String {
            match row.get(i).map(String::as_str) {
                None | Some("") => "-".to_owned(),
                Some(s) => s.to_owned(),
            }
        };
        let mut widths = vec![0; columns];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (i, w) in widths.iter_mut().enumerate() {
                *w = (*w).max(cell(row, i).chars().count());
            }
        }
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, w) in widths.iter().enumerate() {
                let c = cell(row, i);
                line.push_str(&c);
                if i + 1 < columns {
                    let pad = w - c.chars().count() + 2;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }

    /// Prints the table to stdout.
    pub fn print(&self) -> io::Result<()> {
        self.write_to(&mut io::stdout().lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_and_fills_blanks() {
        let mut t = Table::new(["TOPIC", "PARTITION", "LEADER"]);
        t.row(["events", "0", "1"]);
        t.row(["a-much-longer-name", "12", ""]);
        let mut out = Vec::new();
        t.write_to(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "TOPIC               PARTITION  LEADER\n\
             events              0          1\n\
             a-much-longer-name  12         -\n"
        );
    }
}
