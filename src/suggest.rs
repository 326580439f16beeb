//! "Did you mean" suggestions for misspelt keys, types and service names.

/// The candidate closest to `given`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let given_lower = given.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&given_lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count().max(given.chars().count()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["type", "version", "database", "username", "local", "cloud"];
        assert_eq!(did_you_mean("verison", keys), Some("version"));
        assert_eq!(did_you_mean("typ", keys), Some("type"));
        assert_eq!(did_you_mean("Database", keys), Some("database"));
        assert_eq!(did_you_mean("zzzzzz", keys), None);
        assert_eq!(did_you_mean("rediss", ["postgres", "redis"]), Some("redis"));
        assert_eq!(did_you_mean("postgresql", ["postgres", "redis"]), Some("postgres"));
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
