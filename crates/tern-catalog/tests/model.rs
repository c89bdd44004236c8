//! The catalog's model: positions (parsing, ordering, display), serde of every record, ids.

use std::collections::BTreeMap;
use std::fmt::Debug;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tern_catalog::{
    BackupFilter, BackupId, BackupKind, BackupRecord, BackupStatus, ConsistentPoint, LogSegment, NativePosition,
    Paging, Position, ReplicationConfig, RestoreId, RestoreJob, RestoreTarget, Schedule, ScheduleId, ScheduleSpec,
    Sizes, Version,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 11, 45, 0).single().unwrap()
}

fn mariadb(file: &str, offset: u64) -> Position {
    Position::mariadb(file, offset, None).unwrap()
}

fn pg(timeline: u32, lsn: &str) -> Position {
    Position::postgres(timeline, lsn).unwrap()
}

fn bad(text: &str) -> String {
    format!("`{text}` is not a position (mariadb:FILE:OFFSET[:GTID], postgres:TIMELINE:X/Y, or MAJOR:MINOR)")
}

// ---- Position parsing ----

#[test]
fn parse_mariadb() {
    let p = Position::parse("mariadb:mysql-bin.000042:1234").unwrap();
    assert_eq!((p.major, p.minor), (42, 1234));
    assert_eq!(p.native, NativePosition::Mariadb { file: "mysql-bin.000042".into(), offset: 1234, gtid: None });

    let p = Position::parse("mariadb:mysql-bin.000042:1234:0-1-99").unwrap();
    assert_eq!((p.major, p.minor), (42, 1234));
    assert_eq!(
        p.native,
        NativePosition::Mariadb { file: "mysql-bin.000042".into(), offset: 1234, gtid: Some("0-1-99".into()) }
    );

    let p = Position::parse("mariadb:log.bin.7:0").unwrap();
    assert_eq!((p.major, p.minor), (7, 0), "the last extension is the index");
    let p = Position::parse(&format!("mariadb:b.{}:{}", u64::MAX, u64::MAX)).unwrap();
    assert_eq!((p.major, p.minor), (u64::MAX, u64::MAX));
}

#[test]
fn parse_postgres() {
    let p = Position::parse("postgres:1:16/B374D848").unwrap();
    assert_eq!((p.major, p.minor), (1, 0x16_B374_D848));
    assert_eq!(p.native, NativePosition::Postgres { timeline: 1, lsn: "16/B374D848".into() });

    let p = Position::parse("postgres:3:0/0").unwrap();
    assert_eq!((p.major, p.minor), (3, 0));
    let p = Position::parse("postgres:4294967295:FFFFFFFF/FFFFFFFF").unwrap();
    assert_eq!((p.major, p.minor), (u64::from(u32::MAX), u64::MAX));

    // Lower case and leading zeros are accepted, and kept in PostgreSQL's own form.
    let p = Position::parse("postgres:2:0000016/00b374d8").unwrap();
    assert_eq!((p.major, p.minor), (2, 0x16_00B3_74D8));
    assert_eq!(p.native, NativePosition::Postgres { timeline: 2, lsn: "16/B374D8".into() });
}

#[test]
fn parse_generic() {
    let p = Position::parse("5:7").unwrap();
    assert_eq!((p.major, p.minor, p.native), (5, 7, NativePosition::Generic));
    let p = Position::parse(&format!("0:{}", u64::MAX)).unwrap();
    assert_eq!((p.major, p.minor), (0, u64::MAX));
}

#[test]
fn parse_errors_are_exact() {
    for text in [
        "",
        "5",
        "5:",
        ":7",
        "a:b",
        "5:-1",
        "1:2:3",
        "18446744073709551616:0",
        "mariadb",
        "mariadb:mysql-bin.000001",
        "mariadb:mysql-bin.000001:x",
        "mariadb:mysql-bin.000001:-4",
        "mariadb:a.1:2:3:4",
        "postgres:1",
        "postgres:x:0/0",
        "postgres:-1:0/0",
        "postgres:4294967296:0/0",
        "postgres:1:0/0:extra",
        "MariaDB:mysql-bin.000001:4",
    ] {
        assert_eq!(Position::parse(text).unwrap_err(), bad(text), "{text:?}");
    }
    let binlog =
        |f: &str| format!("`{f}` is not a binlog file name (expected a numeric extension, e.g. mysql-bin.000042)");
    for file in ["mysql-bin", "mysql-bin.", "mysql-bin.log", "mysql-bin.-1", ""] {
        assert_eq!(Position::parse(&format!("mariadb:{file}:4")).unwrap_err(), binlog(file), "{file:?}");
        assert_eq!(Position::mariadb(file, 4, None).unwrap_err(), binlog(file), "{file:?}");
    }
    let lsn = |l: &str| format!("`{l}` is not an LSN (expected X/Y in hex)");
    for l in ["16B374D848", "", "/", "G/0", "0/G", "/0", "0/", "0x1/0", "1/2/3", " 1/2"] {
        assert_eq!(Position::parse(&format!("postgres:1:{l}")).unwrap_err(), lsn(l), "{l:?}");
        assert_eq!(Position::postgres(1, l).unwrap_err(), lsn(l), "{l:?}");
    }
    let halves = |l: &str| format!("`{l}` is not an LSN (each half is at most 8 hex digits)");
    for l in ["100000000/0", "0/100000000", "FFFFFFFFFF/0"] {
        assert_eq!(Position::parse(&format!("postgres:1:{l}")).unwrap_err(), halves(l), "{l:?}");
    }
}

// ---- ordering ----

#[test]
fn mariadb_orders_by_file_index_then_offset() {
    let ordered = [
        mariadb("mysql-bin.000009", 4),
        mariadb("mysql-bin.000009", 999_999),
        mariadb("mysql-bin.000010", 4),
        mariadb("mysql-bin.000010", 5),
        mariadb("mysql-bin.000100", 0),
        // A different base name: only the index counts.
        mariadb("other.000101", 0),
    ];
    for (i, a) in ordered.iter().enumerate() {
        for (j, b) in ordered.iter().enumerate() {
            assert_eq!(a.cmp(b), i.cmp(&j), "{a} vs {b}");
        }
    }
    // Not the names' text order: "mysql-bin.9" < "mysql-bin.10" by index.
    assert!(mariadb("mysql-bin.9", 100) < mariadb("mysql-bin.10", 1));
    // Equality ignores the native form.
    assert_eq!(Position::mariadb("x.000042", 4, Some("0-1-2".into())).unwrap(), mariadb("y.42", 4));
    assert_eq!(mariadb("mysql-bin.000042", 4), Position::generic(42, 4));
}

#[test]
fn postgres_orders_by_timeline_then_lsn() {
    let ordered =
        [pg(1, "0/0"), pg(1, "0/FFFFFFFF"), pg(1, "1/0"), pg(1, "FF/0"), pg(2, "0/1"), pg(2, "0/2"), pg(10, "0/0")];
    for (i, a) in ordered.iter().enumerate() {
        for (j, b) in ordered.iter().enumerate() {
            assert_eq!(a.cmp(b), i.cmp(&j), "{a} vs {b}");
        }
    }
    assert!(pg(1, "A/0") > pg(1, "9/FFFFFFFF"), "LSNs compare as numbers, not text");
    assert_eq!(pg(1, "16/B374D848"), pg(1, "16/b374d848"));
    let mut shuffled = [pg(2, "0/1"), pg(1, "FF/0"), pg(1, "0/0"), pg(10, "0/0"), pg(1, "1/0")];
    shuffled.sort();
    let texts: Vec<String> = shuffled.iter().map(ToString::to_string).collect();
    assert_eq!(
        texts,
        [
            "timeline 1, LSN 0/0",
            "timeline 1, LSN 1/0",
            "timeline 1, LSN FF/0",
            "timeline 2, LSN 0/1",
            "timeline 10, LSN 0/0"
        ]
    );
}

// ---- display ----

#[test]
fn display_of_each_native_form() {
    assert_eq!(mariadb("mysql-bin.000042", 1234).to_string(), "mysql-bin.000042:1234");
    assert_eq!(
        Position::mariadb("mysql-bin.000042", 1234, Some("0-1-99".into())).unwrap().to_string(),
        "mysql-bin.000042:1234 (GTID 0-1-99)"
    );
    assert_eq!(pg(1, "16/B374D848").to_string(), "timeline 1, LSN 16/B374D848");
    assert_eq!(pg(7, "0000016/00b374d8").to_string(), "timeline 7, LSN 16/B374D8");
    assert_eq!(Position::generic(5, 7).to_string(), "5:7");
    assert_eq!(
        Position::parse("mariadb:mysql-bin.000001:4:0-1-2").unwrap().to_string(),
        "mysql-bin.000001:4 (GTID 0-1-2)"
    );
}

#[test]
fn display_of_kinds_and_states() {
    let kinds = [BackupKind::Full, BackupKind::Incremental, BackupKind::Dump, BackupKind::Log];
    let names: Vec<String> = kinds.iter().map(ToString::to_string).collect();
    assert_eq!(names, ["full", "incremental", "dump", "log"]);
    for kind in kinds {
        assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.to_string()), "Display is the serde name");
    }
    let states = [
        BackupStatus::Scheduled,
        BackupStatus::Running,
        BackupStatus::Succeeded,
        BackupStatus::Failed { reason: "x".into() },
    ];
    let names: Vec<&str> = states.iter().map(BackupStatus::name).collect();
    assert_eq!(names, ["scheduled", "running", "succeeded", "failed"]);
    for state in &states {
        assert_eq!(serde_json::to_value(state).unwrap()["state"], json!(state.name()), "name is the serde tag");
    }
}

// ---- serde ----

/// JSON out and back in: equal, and equal again as JSON (so parts `PartialEq` ignores, like a
/// position's native form, survive too).
#[track_caller]
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) -> serde_json::Value {
    let json = serde_json::to_value(value).unwrap();
    let text = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(&back, value, "{text}");
    assert_eq!(serde_json::to_value(&back).unwrap(), json, "{text}");
    let pretty: T = serde_json::from_slice(&serde_json::to_vec_pretty(value).unwrap()).unwrap();
    assert_eq!(&pretty, value);
    json
}

fn positions() -> Vec<Position> {
    vec![
        mariadb("mysql-bin.000042", 1234),
        Position::mariadb("mysql-bin.000042", 1234, Some("0-1-99,1-2-3".into())).unwrap(),
        pg(1, "16/B374D848"),
        Position::generic(5, 7),
        Position::generic(u64::MAX, u64::MAX),
    ]
}

fn full_record() -> BackupRecord {
    BackupRecord {
        id: BackupId::at(t0()),
        service: "orders".into(),
        kind: BackupKind::Incremental,
        status: BackupStatus::Failed { reason: "disk full: \"/var\" ✗".into() },
        parent: Some(BackupId::at(t0() - Duration::days(1))),
        started: t0(),
        finished: Some(t0() + Duration::nanoseconds(1_234_567_891)),
        consistent: Some(ConsistentPoint { time: t0(), position: Some(pg(3, "0/3000028")) }),
        sizes: Sizes { logical_bytes: u64::MAX, stored_bytes: 2, new_bytes: 3 },
        manifest: Some("manifests/orders/x.json".into()),
        region: Some("eu-west".into()),
        labels: BTreeMap::from([("a".into(), "1".into()), ("ü".into(), String::new())]),
    }
}

fn minimal_record() -> BackupRecord {
    BackupRecord {
        id: BackupId::at(t0()),
        service: "orders".into(),
        kind: BackupKind::Full,
        status: BackupStatus::Running,
        parent: None,
        started: t0(),
        finished: None,
        consistent: None,
        sizes: Sizes::default(),
        manifest: None,
        region: None,
        labels: BTreeMap::new(),
    }
}

#[test]
fn serde_positions() {
    for p in positions() {
        let json = round_trip(&p);
        let back: Position = serde_json::from_value(json).unwrap();
        assert_eq!(back.native, p.native, "the native form survives");
    }
    assert_eq!(
        serde_json::to_value(pg(1, "16/B374D848")).unwrap(),
        json!({"major": 1, "minor": 0x16_B374_D848_u64, "native": {"engine": "postgres", "timeline": 1, "lsn": "16/B374D848"}})
    );
    assert_eq!(
        serde_json::to_value(mariadb("b.1", 4)).unwrap(),
        json!({"major": 1, "minor": 4, "native": {"engine": "mariadb", "file": "b.1", "offset": 4}}),
        "no gtid key when there is none"
    );
    assert_eq!(serde_json::to_value(Position::generic(1, 2)).unwrap()["native"], json!({"engine": "generic"}));
    for native in positions().into_iter().map(|p| p.native) {
        round_trip(&native);
    }
    let unknown = serde_json::from_value::<NativePosition>(json!({"engine": "oracle"}));
    assert!(unknown.is_err());
}

#[test]
fn serde_ids() {
    let b = BackupId::at(t0());
    assert_eq!(round_trip(&b), json!(b.as_str()), "ids are plain strings");
    assert!(b.as_str().starts_with("20261121T114500.000Z-"), "{b}");
    round_trip(&ScheduleId::at(t0()));
    round_trip(&RestoreId::new());
    for bad in ["", ".hidden", "a/b", "with space", &"x".repeat(65)] {
        assert!(serde_json::from_value::<BackupId>(json!(bad)).is_err(), "{bad:?}");
        assert_eq!(bad.parse::<BackupId>().unwrap_err(), format!("`{bad}` is not a BackupId"));
        assert_eq!(bad.parse::<ScheduleId>().unwrap_err(), format!("`{bad}` is not a ScheduleId"));
    }
    assert_eq!(b.to_string().parse::<BackupId>().unwrap(), b);
    assert_eq!(format!("{b:?}"), format!("BackupId({b})"));
}

#[test]
fn serde_records() {
    let full = full_record();
    round_trip(&full);
    let minimal = minimal_record();
    let json = round_trip(&minimal);
    let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = vec!["id", "service", "kind", "status", "started", "sizes"];
    want.sort_unstable();
    assert_eq!(keys, want, "absent optional fields are not written");
    // ...and may be absent when read, `sizes` too.
    let mut sparse = json.clone();
    sparse.as_object_mut().unwrap().remove("sizes");
    assert_eq!(serde_json::from_value::<BackupRecord>(sparse).unwrap(), minimal);
    assert_eq!(json["status"], json!({"state": "running"}));
    assert_eq!(
        serde_json::to_value(&full).unwrap()["status"],
        json!({"state": "failed", "reason": "disk full: \"/var\" ✗"})
    );

    for kind in [BackupKind::Full, BackupKind::Incremental, BackupKind::Dump, BackupKind::Log] {
        round_trip(&kind);
    }
    for status in [
        BackupStatus::Scheduled,
        BackupStatus::Running,
        BackupStatus::Succeeded,
        BackupStatus::Failed { reason: String::new() },
    ] {
        round_trip(&status);
    }
    round_trip(&Sizes::default());
    round_trip(&ConsistentPoint { time: t0(), position: None });
    round_trip(&ConsistentPoint { time: t0(), position: Some(mariadb("mysql-bin.000001", 4)) });

    let segment = LogSegment {
        id: BackupId::at(t0()),
        service: "orders".into(),
        name: "mysql-bin.000042".into(),
        start_position: Position::mariadb("mysql-bin.000042", 4, Some("0-1-5".into())).unwrap(),
        end_position: mariadb("mysql-bin.000042", 99_999),
        start_time: t0(),
        end_time: t0() + Duration::minutes(5),
        size: 99_995,
        region: Some("eu".into()),
    };
    round_trip(&segment);
    round_trip(&LogSegment { region: None, size: 0, ..segment.clone() });
    let mut no_size = serde_json::to_value(&segment).unwrap();
    no_size.as_object_mut().unwrap().remove("size");
    assert_eq!(serde_json::from_value::<LogSegment>(no_size).unwrap().size, 0, "size defaults to 0");
}

#[test]
fn serde_schedules_restores_replication() {
    for spec in [ScheduleSpec::Once(t0()), ScheduleSpec::Cron("0 3 * * *".into())] {
        let json = round_trip(&spec);
        let schedule = Schedule {
            id: ScheduleId::at(t0()),
            service: "orders".into(),
            kind: BackupKind::Dump,
            spec,
            enabled: false,
            created: t0(),
            updated: Some(t0() + Duration::hours(1)),
        };
        assert_eq!(round_trip(&schedule)["spec"], json);
    }
    assert_eq!(serde_json::to_value(ScheduleSpec::Cron("* * * * *".into())).unwrap(), json!({"cron": "* * * * *"}));

    let targets = [
        RestoreTarget::Latest,
        RestoreTarget::Time(t0()),
        RestoreTarget::Position(Position::mariadb("mysql-bin.000003", 4, Some("0-1-1".into())).unwrap()),
        RestoreTarget::Position(pg(2, "A/B")),
        RestoreTarget::Backup(BackupId::at(t0())),
    ];
    assert_eq!(serde_json::to_value(&targets[0]).unwrap(), json!("latest"));
    for target in targets {
        round_trip(&target);
        let job = RestoreJob {
            id: RestoreId::at(t0()),
            service: "orders".into(),
            target,
            status: BackupStatus::Succeeded,
            created: t0(),
            finished: Some(t0() + Duration::hours(1)),
            region: Some("us".into()),
            data_dir: Some("/var/lib/tern/restores/x".into()),
            external_source: None,
            backups: vec![BackupId::at(t0())],
        };
        round_trip(&job);
        round_trip(&RestoreJob { finished: None, region: None, status: BackupStatus::Scheduled, ..job });
    }

    let config = ReplicationConfig {
        service: "orders".into(),
        secondaries: vec!["eu".into(), "ap".into()],
        enabled: true,
        paused: None,
    };
    let json = round_trip(&config);
    assert!(json.get("paused").is_none());
    round_trip(&ReplicationConfig { paused: Some("maintenance".into()), secondaries: vec![], ..config });
}

#[test]
fn serde_listing_types() {
    round_trip(&Version("\"etag\"".into()));
    round_trip(&Paging::default());
    round_trip(&Paging::all());
    round_trip(&BackupFilter::default());
    round_trip(&BackupFilter {
        service: Some("orders".into()),
        kind: Some(BackupKind::Log),
        status: Some("failed".into()),
        from: Some(t0()),
        to: Some(t0() + Duration::days(1)),
        region: Some("eu".into()),
    });
    assert_eq!(Paging::default(), Paging { page: 1, page_size: 50 });
}

// ---- ids ----

#[test]
fn backup_id_order_is_time_order() {
    let times = [
        t0() - Duration::days(400),
        t0() - Duration::seconds(1),
        t0(),
        t0() + Duration::milliseconds(1),
        t0() + Duration::milliseconds(999),
        t0() + Duration::seconds(1),
        t0() + Duration::minutes(59),
        t0() + Duration::hours(13),
        t0() + Duration::days(40),
        Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).single().unwrap(),
    ];
    let mut ids: Vec<(BackupId, usize)> = times.iter().enumerate().map(|(i, t)| (BackupId::at(*t), i)).rev().collect();
    ids.sort();
    let order: Vec<usize> = ids.iter().map(|(_, i)| *i).collect();
    assert_eq!(order, (0..times.len()).collect::<Vec<_>>());
    assert_ne!(BackupId::at(t0()), BackupId::at(t0()), "ids of one instant differ");
    let a = BackupId::new();
    std::thread::sleep(std::time::Duration::from_millis(2));
    assert!(BackupId::new() > a, "a later id sorts later");
}

// ---- properties ----

/// A position of any native form with the given (major, minor), where the form can express it.
fn any_form(major: u64, minor: u64) -> impl Strategy<Value = Position> {
    let mut forms = vec![Just(Position::generic(major, minor)).boxed()];
    forms.push(Just(Position::mariadb(&format!("mysql-bin.{major:06}"), minor, None).unwrap()).boxed());
    if let Ok(timeline) = u32::try_from(major) {
        let lsn = format!("{:X}/{:X}", minor >> 32, minor & 0xFFFF_FFFF);
        forms.push(Just(Position::postgres(timeline, &lsn).unwrap()).boxed());
    }
    proptest::strategy::Union::new(forms)
}

fn numbers() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..4u64,
        any::<u64>(),
        (0..4u64).prop_map(|x| u64::from(u32::MAX) + x),
        (0..4u64).prop_map(|x| u64::MAX - x)
    ]
}

fn position() -> impl Strategy<Value = Position> {
    (numbers(), numbers()).prop_flat_map(|(major, minor)| any_form(major, minor))
}

proptest! {
    #[test]
    fn position_order_agrees_with_major_minor(a in position(), b in position()) {
        prop_assert_eq!(a.cmp(&b), (a.major, a.minor).cmp(&(b.major, b.minor)));
        prop_assert_eq!(a == b, (a.major, a.minor) == (b.major, b.minor));
        prop_assert_eq!(a.partial_cmp(&b), Some(a.cmp(&b)));
    }

    #[test]
    fn postgres_round_trips_its_lsn(timeline in any::<u32>(), value in any::<u64>(), pad in 0usize..3, lower in any::<bool>()) {
        let (hi, lo) = (value >> 32, value & 0xFFFF_FFFF);
        let canonical = format!("{hi:X}/{lo:X}");
        let p = Position::postgres(timeline, &canonical).unwrap();
        prop_assert_eq!((p.major, p.minor), (u64::from(timeline), value));
        prop_assert_eq!(&p.native, &NativePosition::Postgres { timeline, lsn: canonical.clone() });
        prop_assert_eq!(p.to_string(), format!("timeline {timeline}, LSN {canonical}"));

        // Other spellings of the same LSN parse to the same position, in PostgreSQL's form.
        let hi_width = format!("{hi:X}").len() + pad;
        let mut spelled = format!("{hi:0hi_width$X}/{lo:08X}");
        if lower {
            spelled = spelled.to_lowercase();
        }
        let q = Position::parse(&format!("postgres:{timeline}:{spelled}")).unwrap();
        prop_assert_eq!(&q.native, &p.native);
        prop_assert_eq!((q.major, q.minor), (p.major, p.minor));

        // And the text it keeps gives the same position again.
        let NativePosition::Postgres { lsn, .. } = &p.native else { unreachable!() };
        let again = Position::postgres(timeline, lsn).unwrap();
        prop_assert_eq!(&again.native, &p.native);
        prop_assert_eq!(again.minor, value);
    }

    #[test]
    fn parse_never_panics(text in "[a-z0-9:./ -]{0,40}") {
        let _ = Position::parse(&text);
    }

    #[test]
    fn backup_ids_sort_by_time(a in 0i64..253_402_300_799_000, b in 0i64..253_402_300_799_000) {
        // Whole milliseconds, years 1970-9999: the id's resolution and fixed width.
        prop_assume!(a != b);
        let (ta, tb) = (DateTime::from_timestamp_millis(a).unwrap(), DateTime::from_timestamp_millis(b).unwrap());
        prop_assert_eq!(BackupId::at(ta).cmp(&BackupId::at(tb)), ta.cmp(&tb));
        let id = BackupId::at(ta);
        prop_assert_eq!(id.as_str().parse::<BackupId>().unwrap(), id);
    }
}
