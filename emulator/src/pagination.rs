//! Pagination with opaque `nextToken`s.
//!
//! Every list is ordered by a sort key (an ARN, or a sequence number for stream sessions). A token
//! is the URL-safe base64 of `v1`, the list's name and the sort key of the last item returned; the
//! next page starts after that key, so pages stay consistent when items are added or removed
//! between calls. A token that does not decode, or that belongs to another list, is a
//! `ValidationException`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::error::IvsError;
use crate::validate::{self, Input};

const VERSION: &str = "v1";

/// One page of a list.
#[derive(Debug)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The token of the next page, if there is one.
    pub next_token: Option<String>,
}

/// The paging members of a list request: `nextToken` and `maxResults` (checked against
/// `1..=max`, `default` when absent).
pub fn request(
    input: &Input,
    default: usize,
    max: usize,
) -> Result<(Option<String>, usize), IvsError> {
    let token = input.opt_str("nextToken")?;
    if let Some(token) = token {
        validate::pagination_token(&input.path_of("nextToken"), token)?;
    }
    let max_i64 = i64::try_from(max).unwrap_or(i64::MAX);
    let page_size = match input.opt_int_in("maxResults", 1, max_i64)? {
        Some(value) => usize::try_from(value).unwrap_or(max),
        None => default,
    };
    Ok((
        token.filter(|t| !t.is_empty()).map(str::to_owned),
        page_size,
    ))
}

fn encode(list: &str, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{VERSION}\n{list}\n{key}"))
}

fn decode(list: &str, token: &str) -> Result<String, IvsError> {
    let invalid = || IvsError::validation("The nextToken is not valid for this request");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.splitn(3, '\n');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(VERSION), Some(name), Some(key)) if name == list => Ok(key.to_owned()),
        _ => Err(invalid()),
    }
}

/// Pages `items` (already sorted by ascending key) for the list named `list`.
pub fn paginate<T>(
    list: &str,
    items: impl IntoIterator<Item = (String, T)>,
    token: Option<&str>,
    page_size: usize,
) -> Result<Page<T>, IvsError> {
    let after = token.map(|token| decode(list, token)).transpose()?;
    let mut remaining = items
        .into_iter()
        .filter(|(key, _)| {
            after
                .as_ref()
                .is_none_or(|after| key.as_str() > after.as_str())
        })
        .peekable();
    let mut page = Vec::new();
    let mut last_key = None;
    while page.len() < page_size {
        let Some((key, item)) = remaining.next() else {
            break;
        };
        page.push(item);
        last_key = Some(key);
    }
    let next_token = match (remaining.peek(), last_key) {
        (Some(_), Some(key)) => Some(encode(list, &key)),
        _ => None,
    };
    Ok(Page {
        items: page,
        next_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn items(n: usize) -> Vec<(String, usize)> {
        (0..n).map(|i| (format!("key-{i:03}"), i)).collect()
    }

    #[test]
    fn walks_every_page_once() {
        let mut token: Option<String> = None;
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = paginate("ListChannels", items(7), token.as_deref(), 3).unwrap();
            pages += 1;
            seen.extend(page.items);
            match page.next_token {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, (0..7).collect::<Vec<_>>());
    }

    #[test]
    fn exact_multiple_has_no_empty_last_page() {
        let first = paginate("L", items(4), None, 2).unwrap();
        let second = paginate("L", items(4), first.next_token.as_deref(), 2).unwrap();
        assert_eq!(second.items, vec![2, 3]);
        assert_eq!(second.next_token, None);
    }

    #[test]
    fn pages_survive_deletions() {
        let first = paginate("L", items(6), None, 2).unwrap();
        let mut fewer = items(6);
        fewer.remove(1);
        fewer.remove(1);
        let second = paginate("L", fewer, first.next_token.as_deref(), 2).unwrap();
        assert_eq!(second.items, vec![3, 4]);
    }

    #[test]
    fn tokens_are_opaque_and_bound_to_their_list() {
        let page = paginate("ListChannels", items(3), None, 1).unwrap();
        let token = page.next_token.unwrap();
        assert!(!token.contains("key"));
        validate::pagination_token("nextToken", &token).unwrap();
        let err = paginate("ListStreams", items(3), Some(&token), 1).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Validation);
        for bad in ["garbage", "!!!", "djEKTGlzdA"] {
            let err = paginate("ListChannels", items(3), Some(bad), 1).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Validation, "{bad}");
        }
    }

    #[test]
    fn request_defaults_and_limits() {
        let input = Input::from_body(b"{}").unwrap();
        assert_eq!(request(&input, 1, 50).unwrap(), (None, 1));
        let input = Input::from_body(br#"{"maxResults": 51}"#).unwrap();
        assert!(request(&input, 1, 50).is_err());
        let input = Input::from_body(br#"{"maxResults": 0}"#).unwrap();
        assert!(request(&input, 1, 50).is_err());
        let input = Input::from_body(br#"{"nextToken": "", "maxResults": 50}"#).unwrap();
        assert_eq!(request(&input, 1, 50).unwrap(), (None, 50));
        let input = Input::from_body(br#"{"nextToken": "a b"}"#).unwrap();
        assert!(request(&input, 1, 50).is_err());
    }
}
