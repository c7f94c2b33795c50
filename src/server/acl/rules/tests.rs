use super::*;

fn user(rules: &[&str]) -> User {
    let r: Vec<&[u8]> = rules.iter().map(|s| s.as_bytes()).collect();
    User::new(b"u", false).with_rules(&r, false).unwrap_or_else(|e| panic!("{}", String::from_utf8_lossy(&e)))
}

fn describe(rules: &[&str]) -> String {
    String::from_utf8(user(rules).describe()).unwrap()
}

#[test]
fn every_command_has_a_bit() {
    let n: usize = spec::COMMANDS.iter().map(|c| 1 + c.subcommands.len()).sum();
    assert!(n < WORDS * 64, "{n} commands and subcommands");
}

#[test]
fn descriptions_as_redis_writes_them() {
    // Captured from redis-server 7.2.6 (ACL SETUSER u <rules>, then ACL LIST).
    assert_eq!(describe(&[]), "off sanitize-payload resetchannels -@all");
    assert_eq!(User::default_user().describe(), b"on nopass sanitize-payload ~* &* +@all");
    assert_eq!(
        describe(&["on", ">p", "~cache:*", "%R~ro:*", "%W~wo:*", "&ch", "+@read", "-keys", "+set"]),
        "on sanitize-payload #148de9c5a7a44d19e56cd9ae1a554bf67847afb0c58f6e12fa29ac7ddfca9940 ~cache:* %R~ro:* %W~wo:* resetchannels &ch -@all +@read -keys +set"
    );
    assert_eq!(
        describe(&["+@all", "-@dangerous", "+config|get"]),
        "off sanitize-payload resetchannels +@all -@dangerous +config|get"
    );
    assert_eq!(describe(&["+config|get", "+config"]), "off sanitize-payload resetchannels -@all +config");
    assert_eq!(describe(&["+select|0", "+select|1"]), "off sanitize-payload resetchannels -@all +select|0 +select|1");
    assert_eq!(describe(&["+select|0", "-select"]), "off sanitize-payload resetchannels -@all -select");
    assert_eq!(
        describe(&["(~a +get)", "(", "~b", "+set", ")"]),
        "off sanitize-payload resetchannels -@all (~a resetchannels -@all +get) (~b resetchannels -@all +set)"
    );
    assert_eq!(describe(&["%RW~x", "%R~x"]), "off sanitize-payload ~x resetchannels -@all");
    assert_eq!(describe(&["%R"]), "off sanitize-payload %R~ resetchannels -@all");
}

#[test]
fn rule_errors() {
    let err = |rules: &[&str]| {
        let r: Vec<&[u8]> = rules.iter().map(|s| s.as_bytes()).collect();
        String::from_utf8(User::new(b"u", false).with_rules(&r, false).unwrap_err()).unwrap()
    };
    // "%" alone: Redis accepts it and then aborts describing the user (ACL LIST); refused.
    assert_eq!(err(&["%"]), "ERR Error in ACL SETUSER modifier '%': Syntax error");
    assert_eq!(err(&["bogus"]), "ERR Error in ACL SETUSER modifier 'bogus': Syntax error");
    assert_eq!(
        err(&["+nosuch"]),
        "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"
    );
    assert_eq!(
        err(&["+@nosuch"]),
        "ERR Error in ACL SETUSER modifier '+@nosuch': Unknown command or category name in ACL"
    );
    assert_eq!(
        err(&["+config|get|x"]),
        "ERR Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a subcommand is not supported"
    );
    assert_eq!(
        err(&["-select|0"]),
        "ERR Error in ACL SETUSER modifier '-select|0': Unknown command or category name in ACL"
    );
    assert!(err(&["~*", "~a"]).ends_with("Try 'resetkeys' to start with an empty list of patterns"));
    assert!(err(&["&*", "&a"]).ends_with("Try 'resetchannels' to start with an empty list of channels"));
    assert!(err(&["<nope"]).ends_with("The password you are trying to remove from the user does not exist"));
    assert!(err(&["#abc"]).ends_with("exactly 64 characters and contain only lowercase hexadecimal characters"));
    assert_eq!(err(&["(~a", "+get"]), "ERR Unmatched parenthesis in acl selector starting at '(~a'.");
}

#[test]
fn checks() {
    let get = spec::lookup(b"get").unwrap();
    let set = spec::lookup(b"set").unwrap();
    let u = user(&["on", "nopass", "%R~r:*", "%W~w:*", "+get", "+set"]);
    assert_eq!(u.check(get, &[b"get", b"r:1"]), None);
    assert_eq!(u.check(get, &[b"get", b"w:1"]), Some((Denied::Key, 1)));
    assert_eq!(u.check(set, &[b"set", b"w:1", b"v"]), None);
    assert_eq!(u.check(set, &[b"set", b"r:1", b"v"]), Some((Denied::Key, 1)));
    let del = spec::lookup(b"del").unwrap();
    assert_eq!(u.check(del, &[b"del", b"w:1"]), Some((Denied::Command, 0)));
    let sel = spec::lookup(b"select").unwrap();
    let u = user(&["+select|0"]);
    assert_eq!(u.check(sel, &[b"select", b"0"]), None);
    assert_eq!(u.check(sel, &[b"select", b"1"]), Some((Denied::Command, 0)));
    let publish = spec::lookup(b"publish").unwrap();
    let u = user(&["+publish", "&news.*"]);
    assert_eq!(u.check(publish, &[b"publish", b"news.1", b"m"]), None);
    assert_eq!(u.check(publish, &[b"publish", b"other", b"m"]), Some((Denied::Channel, 1)));
    let u = user(&["~*", "&*", "+@all"]);
    assert!(u.unrestricted());
}

#[test]
fn passwords() {
    let u = user(&["on", ">secret", ">other"]);
    assert!(u.accepts(b"secret") && u.accepts(b"other") && !u.accepts(b"x"));
    let u = user(&["off", ">secret"]);
    assert!(!u.accepts(b"secret"));
    let u = user(&["on", "nopass"]);
    assert!(u.accepts(b"anything"));
}

#[test]
fn pattern_shapes_match_as_the_glob_matcher() {
    let pats: &[&[u8]] = &[b"", b"*", b"key", b"key:*", b"key:**", b"k?y", b"k[ab]", b"k\\*", b"*:x", b"a*b"];
    let keys: &[&[u8]] = &[b"", b"k", b"key", b"key:", b"key:1", b"kay", b"ka", b"k*", b"a:x", b"ab", b"axb", b"keyx"];
    let mut bad = Vec::new();
    for p in pats {
        let kp = KeyPattern::new(ALL, p);
        for k in keys {
            if kp.matches(k) != glob_match(p, k, false) {
                bad.push(format!("{:?} {:?}", String::from_utf8_lossy(p), String::from_utf8_lossy(k)));
            }
        }
    }
    assert!(bad.is_empty(), "{bad:?}");
}
