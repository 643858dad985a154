//! Lists where a repeated entry is a mistake: `retry_on: [5xx, 5xx]`, a principal named twice.
//! A repeat never changes what a policy does, so it is refused rather than silently folded: it
//! usually stands for a typo in the entry that was meant.

use std::fmt::Debug;

use crate::Error;

/// Refuses the first entry of `items` that repeats an earlier one, naming `field[i]` and the
/// earlier position (`retry_on[2]` repeats `retry_on[0]`).
pub(crate) fn no_repeats<T: PartialEq + Debug>(field: &str, items: &[T]) -> Result<(), Error> {
    for (i, item) in items.iter().enumerate() {
        if let Some(first) = items[..i].iter().position(|x| x == item) {
            return Err(Error::invalid(
                format!("{field}[{i}]"),
                format!("{item:?} repeats {field}[{first}]; give each entry once"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::no_repeats;

    #[test]
    fn the_first_repeat_is_named_with_both_positions() {
        assert!(no_repeats("x", &[1, 2, 3]).is_ok());
        assert!(no_repeats::<u8>("x", &[]).is_ok());
        let err = no_repeats("retry_on", &["5xx", "reset", "5xx"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("retry_on[2]") && err.contains("retry_on[0]"),
            "{err}"
        );
    }
}
