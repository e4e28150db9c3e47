//! Reading W3C `baggage` members by name (validation and propagation are `propagation`'s): the
//! identity holds a request's baggage, and logging reads its `tracewire.log` member from here.

/// The value of the member `key` (its first occurrence), without its properties and still
/// percent-encoded as sent.
pub fn baggage_member<'a>(baggage: &'a str, key: &str) -> Option<&'a str> {
    baggage.split(',').find_map(|member| {
        let pair = member.split(';').next()?;
        let (k, v) = pair.split_once('=')?;
        (k.trim_matches([' ', '\t']) == key).then(|| v.trim_matches([' ', '\t']))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_by_name() {
        let b = "a=1,tracewire.log = debug;ttl=2,a=3";
        assert_eq!(baggage_member(b, "tracewire.log"), Some("debug"));
        assert_eq!(baggage_member(b, "a"), Some("1"), "the first of two");
        assert_eq!(baggage_member(b, "ttl"), None, "a property is not a member");
    }
}
