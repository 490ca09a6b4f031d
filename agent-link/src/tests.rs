//! Both ends of enrolment and of running connections against each other, with no sockets or
//! clocks: what each side stores is kept as a test's "disk", so a crash is dropping a link
//! and starting again from the disk.

use proptest::prelude::*;

use crate::agent::{AgentIdentity, StoreReason};
use crate::controller::RefreshStep;
use crate::enrol::{AgentEnrolment, ControllerEnrolment, EnrolStep, EnrolToken, Enrolled};
use crate::*;

fn config() -> ControllerConfig {
    ControllerConfig {
        handshake_ms: 1_000,
        ping_every_ms: 1_000,
        ping_timeout_ms: 500,
        refresh_every_ms: 10_000,
        refresh_timeout_ms: 2_000,
    }
}

fn agent_config(screen: bool) -> AgentConfig {
    AgentConfig { handshake_ms: 1_000, version: "test".into(), screen }
}

struct Controller {
    secret: StaticSecret,
    node: ed25519_dalek::SigningKey,
    /// The store: the agent's record.
    agent: Option<KnownAgent>,
    revoked: bool,
}

struct Agent {
    secret: StaticSecret,
    /// The state file.
    identity: Option<(AgentIdentity, AgentAssociations)>,
}

fn controller() -> Controller {
    Controller {
        secret: StaticSecret::from_bytes([1; 32]),
        node: ed25519_dalek::SigningKey::from_bytes(&[2; 32]),
        agent: None,
        revoked: false,
    }
}

fn pin(controller: &Controller) -> Pin {
    Pin::of(&controller.node.verifying_key().to_bytes())
}

fn real_token() -> EnrolToken {
    EnrolToken::from_random([7; 44])
}

/// Runs an enrolment to its end; returns what the agent stored.
fn enrol(controller: &mut Controller, agent: &mut Agent, token: &EnrolToken, pin: Pin) -> Result<Enrolled, LinkError> {
    let mut ours = AgentEnrolment::start(token, pin, &agent.secret, [3; 32])?;
    let first = ours.take_outgoing().expect("first message");
    let (mut theirs, token_id) = ControllerEnrolment::accept(&first)?;
    assert_eq!(token_id, token.id());
    let proof = NodeProof::sign(&controller.node, &controller.secret.public());
    theirs.token_found(&real_token().psk(), &controller.secret, &proof, [4; 32])?;
    let answer = theirs.take_outgoing().expect("answer");
    assert_eq!(ours.handle_message(&answer)?, None);
    let last = ours.take_outgoing().expect("last handshake message");
    let EnrolStep::Admit { agent_public } = theirs.handle_message(&last)? else { panic!("not admitted") };
    assert_eq!(agent_public, agent.secret.public());
    let first_association = Association { epoch: 1, psk: Psk::from_bytes([9; 32]) };
    theirs.enrolled("agent-1", "web-1", "Web 1", &first_association)?;
    controller.agent = Some(KnownAgent {
        agent_public,
        associations: ControllerAssociations::new(first_association),
        host_id: "web-1".into(),
        name: "Web 1".into(),
    });
    let enrolled = ours.handle_message(&theirs.take_outgoing().expect("enrolled"))?.expect("enrolment over");
    agent.identity = Some((
        AgentIdentity {
            agent_id: enrolled.agent_id.clone(),
            secret: agent.secret.clone(),
            controller_static: enrolled.controller_static,
        },
        AgentAssociations::new(enrolled.association.clone()),
    ));
    ours.stored()?;
    assert_eq!(theirs.handle_message(&ours.take_outgoing().expect("stored"))?, EnrolStep::Done);
    Ok(enrolled)
}

fn enrolled_pair() -> (Controller, Agent) {
    let mut c = controller();
    let mut a = Agent { secret: StaticSecret::from_bytes([5; 32]), identity: None };
    let pin = pin(&c);
    enrol(&mut c, &mut a, &real_token(), pin).expect("enrolment");
    (c, a)
}

/// One running connection between the two, with their actions gathered.
struct Pair {
    agent: AgentLink,
    controller: ControllerLink,
    agent_actions: Vec<AgentAction>,
    controller_actions: Vec<ControllerAction>,
    now: u64,
}

fn connect(c: &Controller, a: &Agent, now: u64) -> Pair {
    connect_with_screen(c, a, now, false)
}

fn connect_with_screen(c: &Controller, a: &Agent, now: u64, screen: bool) -> Pair {
    let (identity, associations) = a.identity.clone().expect("enrolled");
    let mut agent =
        AgentLink::connect(&identity, associations, Facts::default(), &agent_config(screen), [6; 32], now).unwrap();
    let first = agent.take_outgoing().unwrap();
    let (mut controller, agent_id) = ControllerLink::accept(&first, config(), now).unwrap();
    assert_eq!(agent_id, "agent-1");
    match (&c.agent, c.revoked) {
        (Some(known), false) => controller.agent_found(&c.secret, known.clone(), [8; 32], now),
        _ => controller.refuse("no such agent"),
    }
    let mut pair = Pair { agent, controller, agent_actions: vec![], controller_actions: vec![], now };
    pair.pump();
    pair
}

impl Pair {
    /// Carries every message both ways until both are quiet, gathering actions.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(m) = self.agent.take_outgoing() {
                self.controller.handle_message(&m, self.now);
                moved = true;
            }
            while let Some(m) = self.controller.take_outgoing() {
                self.agent.handle_message(&m, self.now);
                moved = true;
            }
            while let Some(a) = self.agent.next_action() {
                self.agent_actions.push(a);
                moved = true;
            }
            while let Some(a) = self.controller.next_action() {
                self.controller_actions.push(a);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    /// Moves time on in half-second steps, as a running pair would see it.
    fn run_until(&mut self, to: u64) {
        while self.now < to {
            let step = (self.now + 500).min(to);
            self.advance(step);
        }
    }

    fn advance(&mut self, to: u64) {
        self.now = to;
        self.agent.poll(to);
        self.controller.poll(to);
        self.pump();
    }

    fn agent_closed(&self) -> Option<&LinkError> {
        self.agent_actions.iter().find_map(|a| match a {
            AgentAction::Closed(err) => Some(err),
            _ => None,
        })
    }

    fn controller_closed(&self) -> Option<&LinkError> {
        self.controller_actions.iter().find_map(|a| match a {
            ControllerAction::Closed(err) => Some(err),
            _ => None,
        })
    }

    fn connected(&self) -> bool {
        self.agent_actions.iter().any(|a| matches!(a, AgentAction::Connected { .. }))
            && self.controller_actions.iter().any(|a| matches!(a, ControllerAction::Connected { .. }))
            && self.agent_closed().is_none()
            && self.controller_closed().is_none()
    }
}

#[test]
fn an_enrolled_agent_connects_and_is_welcomed_as_its_host() {
    let (c, a) = enrolled_pair();
    let pair = connect(&c, &a, 0);
    assert!(pair.connected(), "{:?} {:?}", pair.agent_actions, pair.controller_actions);
    assert!(pair.agent_actions.contains(&AgentAction::Welcome { host_id: "web-1".into(), name: "Web 1".into() }));
    assert_eq!(pair.controller.epoch(), 1);
}

#[test]
fn an_agent_given_a_wrong_pin_refuses_the_controller() {
    let mut c = controller();
    let mut a = Agent { secret: StaticSecret::from_bytes([5; 32]), identity: None };
    let wrong = Pin::of(&[0xee; 32]);
    let err = enrol(&mut c, &mut a, &real_token(), wrong).unwrap_err();
    assert_eq!(err, LinkError::Closed("the controller's identity key does not match the pin".into()));
    assert!(a.identity.is_none());
}

#[test]
fn a_wrong_token_secret_fails_the_enrolment_at_the_controller() {
    let mut c = controller();
    let mut a = Agent { secret: StaticSecret::from_bytes([5; 32]), identity: None };
    let mut forged = [7; 44];
    forged[43] ^= 1;
    let pin = pin(&c);
    // The controller looks the id up and uses the real token's key; the agent's differs.
    let err = enrol(&mut c, &mut a, &EnrolToken::from_random(forged), pin).unwrap_err();
    assert_eq!(err, LinkError::Handshake("the enrolment token's secret is wrong"));
    assert!(c.agent.is_none());
}

#[test]
fn tokens_parse_back_and_pins_print_as_ssh_fingerprints() {
    let t = real_token();
    let parsed = EnrolToken::parse(&t.reveal()).unwrap();
    assert_eq!(parsed.id(), t.id());
    assert_eq!(parsed.psk(), t.psk());
    assert!(EnrolToken::parse("nodot").is_err());
    assert!(EnrolToken::parse("a.b").is_err());
    let c = controller();
    let text = pin(&c).to_string();
    assert!(text.starts_with("SHA256:") && text.len() == 7 + 43, "{text}");
    assert_eq!(Pin::parse(&text).unwrap(), pin(&c));
    assert!(Pin::parse("SHA256:short").is_err());
    assert!(!format!("{t:?}").contains(&t.reveal()));
}

#[test]
fn an_unknown_or_revoked_agent_gets_no_answer() {
    let (mut c, a) = enrolled_pair();
    c.revoked = true;
    let pair = connect(&c, &a, 0);
    assert!(pair.controller_closed().is_some());
    assert!(!pair.agent_actions.iter().any(|x| matches!(x, AgentAction::Connected { .. })));
}

#[test]
fn an_agent_with_another_static_key_fails_the_handshake() {
    let (c, mut a) = enrolled_pair();
    if let Some((identity, _)) = a.identity.as_mut() {
        identity.secret = StaticSecret::from_bytes([0x55; 32]);
    }
    let pair = connect(&c, &a, 0);
    assert_eq!(
        pair.controller_closed(),
        Some(&LinkError::Handshake("the agent's keys do not match its enrolment")),
        "{:?} {:?}",
        pair.agent_actions,
        pair.controller_actions
    );
}

#[test]
fn a_tampered_message_closes_the_link() {
    let (c, a) = enrolled_pair();
    let mut pair = connect(&c, &a, 0);
    pair.agent.heartbeat();
    let mut sealed = pair.agent.take_outgoing().unwrap();
    sealed[3] ^= 0x40;
    pair.controller.handle_message(&sealed, 0);
    pair.pump();
    assert_eq!(pair.controller_closed(), Some(&LinkError::Decrypt));
}

#[test]
fn a_replayed_message_closes_the_link() {
    let (c, a) = enrolled_pair();
    let mut pair = connect(&c, &a, 0);
    pair.agent.heartbeat();
    let sealed = pair.agent.take_outgoing().unwrap();
    pair.controller.handle_message(&sealed, 0);
    pair.controller.handle_message(&sealed, 0);
    pair.pump();
    assert!(pair.controller_actions.contains(&ControllerAction::Heartbeat));
    assert_eq!(pair.controller_closed(), Some(&LinkError::Decrypt));
}

#[test]
fn pings_keep_a_live_link_and_find_a_silent_one() {
    let (c, a) = enrolled_pair();
    let mut pair = connect(&c, &a, 0);
    for t in (500..20_000).step_by(500) {
        pair.advance(t);
    }
    assert!(pair.connected());
    // The agent stops answering: the controller gives up within an interval and a timeout.
    pair.controller.poll(21_000);
    while pair.controller.take_outgoing().is_some() {}
    pair.controller.poll(21_600);
    while let Some(x) = pair.controller.next_action() {
        pair.controller_actions.push(x);
    }
    assert!(matches!(pair.controller_closed(), Some(LinkError::Silent(_))));
    // And an agent that hears nothing for three intervals gives up too.
    pair.agent.poll(19_500 + 3_000);
    while let Some(x) = pair.agent.next_action() {
        pair.agent_actions.push(x);
    }
    assert!(matches!(pair.agent_closed(), Some(LinkError::Silent(3_000))));
}

#[test]
fn a_busy_agent_still_hears_the_controllers_pings() {
    let (c, a) = enrolled_pair();
    let mut pair = connect(&c, &a, 0);
    let stream = pair.controller.open_stream(OpenKind::Console { cols: 80, rows: 25 }).unwrap();
    pair.pump();
    // The agent talks every 100 ms for half a minute; the controller has nothing to say.
    for t in (100..30_000).step_by(100) {
        pair.agent.send_output(stream, OutputChannel::Stdout, b"x");
        pair.controller.output_consumed(stream, 1);
        pair.advance(t);
    }
    assert!(pair.connected(), "{:?}", pair.agent_closed());
}

#[test]
fn directive_output_is_held_to_the_window_until_the_controller_takes_it() {
    let (c, a) = enrolled_pair();
    let mut pair = connect(&c, &a, 0);
    let command =
        OpenKind::Directive { command: "yes".into(), timeout_ms: 60_000, max_output: 1 << 30, kerberos: None };
    let stream = pair.controller.open_stream(command.clone()).unwrap();
    pair.pump();
    assert!(pair.agent_actions.contains(&AgentAction::Open { stream, kind: command }));
    let chunk = vec![b'y'; 16 * 1024];
    let mut sent = 0;
    while pair.agent.room(stream) > 0 {
        sent += pair.agent.send_output(stream, OutputChannel::Stdout, &chunk);
    }
    assert_eq!(sent, streams::WINDOW as usize);
    pair.pump();
    let received: usize = pair
        .controller_actions
        .iter()
        .map(|x| match x {
            ControllerAction::Output { bytes, .. } => bytes.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(received, sent);
    // The controller takes half: the agent may send that much more, and no more.
    pair.controller.output_consumed(stream, sent / 2);
    pair.pump();
    let mut more = 0;
    while pair.agent.room(stream) > 0 {
        more += pair.agent.send_output(stream, OutputChannel::Stdout, &chunk);
    }
    assert_eq!(more, sent / 2);
    pair.agent
        .exited(stream, Exit { code: Some(0), signal: None, duration_ms: 5, output_bytes: 1, reason: String::new() });
    pair.pump();
    assert!(pair
        .controller_actions
        .iter()
        .any(|x| matches!(x, ControllerAction::Exited { stream: s, .. } if *s == stream)));
    assert!(pair.connected());
}

#[test]
fn several_streams_run_at_once_and_a_cancel_reaches_only_its_own() {
    let (c, a) = enrolled_pair();
    let mut pair = connect(&c, &a, 0);
    let kind =
        |cmd: &str| OpenKind::Directive { command: cmd.into(), timeout_ms: 1_000, max_output: 1_000, kerberos: None };
    let one = pair.controller.open_stream(kind("uname -a")).unwrap();
    let two = pair.controller.open_stream(kind("count")).unwrap();
    pair.pump();
    pair.agent.send_output(two, OutputChannel::Stdout, b"1\n");
    pair.agent.send_output(one, OutputChannel::Stdout, b"Linux\n");
    pair.agent.send_output(two, OutputChannel::Stderr, b"2\n");
    pair.controller.cancel(two);
    pair.pump();
    let outputs: Vec<(u32, OutputChannel, Vec<u8>)> = pair
        .controller_actions
        .iter()
        .filter_map(|x| match x {
            ControllerAction::Output { stream, channel, bytes } => Some((*stream, *channel, bytes.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        outputs,
        vec![
            (two, OutputChannel::Stdout, b"1\n".to_vec()),
            (one, OutputChannel::Stdout, b"Linux\n".to_vec()),
            (two, OutputChannel::Stderr, b"2\n".to_vec()),
        ]
    );
    assert!(pair.agent_actions.contains(&AgentAction::Cancel { stream: two }));
    assert!(!pair.agent_actions.contains(&AgentAction::Cancel { stream: one }));
}

#[test]
fn only_an_agent_that_announced_a_screen_is_asked_to_open_it() {
    let (c, a) = enrolled_pair();
    let mut without = connect(&c, &a, 0);
    assert!(without.controller_actions.iter().any(|x| matches!(x, ControllerAction::Connected { screen: false, .. })));
    assert!(without.controller.open_stream(OpenKind::Screen).is_err());
    without.pump();
    assert!(without.connected(), "a refused screen leaves the link up");

    let mut with = connect_with_screen(&c, &a, 0, true);
    assert!(with.controller_actions.iter().any(|x| matches!(x, ControllerAction::Connected { screen: true, .. })));
    let stream = with.controller.open_stream(OpenKind::Screen).unwrap();
    with.pump();
    assert!(with.agent_actions.contains(&AgentAction::Open { stream, kind: OpenKind::Screen }));
    // A byte stream both ways: the server's greeting out, the client's answer in.
    with.agent.send_output(stream, OutputChannel::Stdout, b"RFB 003.008\n");
    with.controller.send_input(stream, b"RFB 003.008\n");
    with.pump();
    assert!(with
        .controller_actions
        .iter()
        .any(|x| matches!(x, ControllerAction::Output { bytes, .. } if bytes == b"RFB 003.008\n")));
    assert!(with
        .agent_actions
        .iter()
        .any(|x| matches!(x, AgentAction::Input { bytes, .. } if bytes == b"RFB 003.008\n")));
}

#[test]
fn a_frame_on_a_stream_never_opened_is_a_violation() {
    let (c, a) = enrolled_pair();
    let mut pair = connect(&c, &a, 0);
    let stream = pair.controller.open_stream(OpenKind::Console { cols: 80, rows: 25 }).unwrap();
    pair.pump();
    // Output on a closed stream is late, not wrong.
    pair.agent
        .exited(stream, Exit { code: None, signal: Some(9), duration_ms: 0, output_bytes: 0, reason: String::new() });
    pair.pump();
    pair.controller.send_input(stream, b"x");
    pair.pump();
    assert!(pair.connected());
    // A stream the controller never opened is.
    let mut agent_side = pair.agent;
    agent_side.exited(99, Exit { code: Some(0), signal: None, duration_ms: 0, output_bytes: 0, reason: String::new() });
    assert!(agent_side.take_outgoing().is_none(), "a stream never opened is not closed");
}

/// Drives a refresh to `stop_after` steps (0: none; 1: ready stored by the agent; 2: the
/// acknowledgement stored by the controller; 3: the confirmation stored by the agent), saving
/// each side's store as it asks, then drops the connection.
fn refresh_until(c: &mut Controller, a: &mut Agent, stop_after: u8, now: u64) {
    let mut pair = connect(c, a, now);
    assert!(pair.connected());
    let due = now + config().refresh_every_ms;
    pair.now = due;
    pair.controller.poll(due);
    // Step through by hand, storing as asked, stopping when told.
    let mut steps = 0;
    loop {
        pair.pump();
        let mut progressed = false;
        for action in std::mem::take(&mut pair.agent_actions) {
            if let AgentAction::StoreAssociations { associations, reason } = action {
                if let Some((_, stored)) = a.identity.as_mut() {
                    *stored = associations;
                }
                match reason {
                    StoreReason::Staged | StoreReason::Confirmed => steps += 1,
                    StoreReason::Adopted => {}
                }
                if steps >= stop_after.max(1) && stop_after < 3 && reason == StoreReason::Staged && stop_after == 1 {
                    return;
                }
                pair.agent.associations_stored();
                progressed = true;
            }
        }
        for action in std::mem::take(&mut pair.controller_actions) {
            if let ControllerAction::CommitAssociations(associations) = action {
                if let Some(known) = c.agent.as_mut() {
                    known.associations = associations;
                }
                steps += 1;
                if stop_after == 2 {
                    return;
                }
                pair.controller.associations_committed(due);
                progressed = true;
            }
        }
        if steps >= 3 || !progressed {
            return;
        }
    }
}

#[test]
fn a_refresh_commits_in_three_steps_and_the_next_connection_uses_it() {
    let (mut c, mut a) = enrolled_pair();
    let mut pair = connect(&c, &a, 0);
    pair.run_until(config().refresh_every_ms);
    let steps: Vec<&ControllerAction> =
        pair.controller_actions.iter().filter(|x| matches!(x, ControllerAction::Refresh(_))).collect();
    assert_eq!(steps, vec![&ControllerAction::Refresh(RefreshStep::Ready { epoch: 2 })]);
    refresh_until(&mut c, &mut a, 3, 20_000);
    assert_eq!(c.agent.as_ref().unwrap().associations.current.epoch, 2);
    assert_eq!(a.identity.as_ref().unwrap().1.current.epoch, 2);
    let pair = connect(&c, &a, 40_000);
    assert!(pair.connected());
    assert_eq!(pair.controller.epoch(), 2);
}

#[test]
fn a_refresh_nobody_acknowledges_is_abandoned_and_the_link_goes_on() {
    let (c, a) = enrolled_pair();
    let mut pair = connect(&c, &a, 0);
    let due = config().refresh_every_ms;
    pair.run_until(due);
    // The agent never stores (its disk is full): no acknowledgement.
    pair.run_until(due + config().refresh_timeout_ms);
    assert!(pair.connected());
    assert!(pair.controller_actions.contains(&ControllerAction::Refresh(RefreshStep::Abandoned { epoch: 2 })));
    assert_eq!(pair.controller.epoch(), 1);
}

#[test]
fn a_crash_at_any_step_of_a_refresh_leaves_a_generation_both_hold() {
    for stop_after in 1..=3 {
        let (mut c, mut a) = enrolled_pair();
        refresh_until(&mut c, &mut a, stop_after, 0);
        let pair = connect(&c, &a, 100_000);
        assert!(pair.connected(), "after a crash at step {stop_after}: {:?}", pair.controller_closed());
        // A connection at the agent's next generation confirms it on the agent too.
        let mut again = connect(&c, &a, 200_000);
        for action in std::mem::take(&mut again.agent_actions) {
            if let AgentAction::StoreAssociations { associations, .. } = action {
                a.identity.as_mut().unwrap().1 = associations;
            }
        }
        assert!(connect(&c, &a, 300_000).connected());
    }
}

proptest! {
    // Each case runs several real handshakes.
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any sequence of refreshes each cut at any step, with either side's store written as it
    /// asked, never locks the agent out.
    #[test]
    fn no_interleaving_of_crashes_locks_an_agent_out(stops in proptest::collection::vec(0u8..=3, 1..8)) {
        let (mut c, mut a) = enrolled_pair();
        let mut now = 0;
        for stop in stops {
            if stop > 0 {
                refresh_until(&mut c, &mut a, stop, now);
            }
            now += 100_000;
            let mut pair = connect(&c, &a, now);
            prop_assert!(pair.connected(), "locked out: {:?}", pair.controller_closed());
            for action in std::mem::take(&mut pair.agent_actions) {
                if let AgentAction::StoreAssociations { associations, .. } = action {
                    a.identity.as_mut().unwrap().1 = associations;
                }
            }
            now += 100_000;
        }
    }

    #[test]
    fn frames_decode_any_bytes_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = Frame::decode(&bytes);
        let _ = hello::Hello::decode(&bytes);
    }
}

#[test]
fn hellos_of_older_and_newer_agents_are_understood() {
    let facts = Facts { hostname: "h".into(), ..Facts::default() };
    let hello = Frame::Hello { version: "1".into(), facts: facts.clone(), screen: true }.encode();
    let (older, newer) = (&hello[..hello.len() - 1], [hello.as_slice(), b"later fields"].concat());
    assert_eq!(
        Frame::decode(older).unwrap(),
        Frame::Hello { version: "1".into(), facts: facts.clone(), screen: false }
    );
    assert_eq!(Frame::decode(&newer).unwrap(), Frame::Hello { version: "1".into(), facts, screen: true });
}

#[test]
fn every_frame_round_trips() {
    let facts = Facts {
        hostname: "h".into(),
        os: "Debian".into(),
        kernel: "6.1".into(),
        uptime_s: 9,
        addresses: vec!["10.0.0.2".into()],
    };
    let exit = Exit { code: Some(-1), signal: Some(15), duration_ms: 7, output_bytes: 8, reason: "timed out".into() };
    let frames = vec![
        Frame::Hello { version: "1".into(), facts: facts.clone(), screen: false },
        Frame::Hello { version: "1".into(), facts: facts.clone(), screen: true },
        Frame::Welcome { ping_every_ms: 5, host_id: "h".into(), name: "H".into() },
        Frame::Facts(facts),
        Frame::Ping(1),
        Frame::Pong(2),
        Frame::Open {
            stream: 1,
            kind: OpenKind::Directive { command: "ls".into(), timeout_ms: 3, max_output: 4, kerberos: None },
        },
        Frame::Open {
            stream: 2,
            kind: OpenKind::Directive {
                command: "id -un".into(),
                timeout_ms: 3,
                max_output: 4,
                kerberos: Some(crate::KerberosProof { token: vec![0x60; 700], wrapped: vec![5; 90] }),
            },
        },
        Frame::Open { stream: 2, kind: OpenKind::Console { cols: 80, rows: 25 } },
        Frame::Open { stream: 3, kind: OpenKind::Screen },
        Frame::Data { stream: 1, channel: None, bytes: b"in".to_vec() },
        Frame::Data { stream: 1, channel: Some(OutputChannel::Stderr), bytes: b"err".to_vec() },
        Frame::Credit { stream: 1, bytes: 9 },
        Frame::Resize { stream: 2, cols: 100, rows: 30 },
        Frame::Cancel { stream: 1 },
        Frame::Exit { stream: 1, exit },
        Frame::Sensors(vec![SensorReading {
            id: "cpu".into(),
            name: "CPU".into(),
            kind: 0,
            milli: -5_000,
            thresholds: [None, Some(-10_000), Some(80_000), None],
        }]),
        Frame::Power { request: 3, verb: PowerVerb::Shutdown },
        Frame::PowerDone { request: 3, error: Some("no".into()) },
        Frame::Heartbeat,
        Frame::Ready { epoch: 2, psk: [1; 32] },
        Frame::Acknowledge { epoch: 2 },
        Frame::Confirm { epoch: 2 },
        Frame::Goodbye { reason: "bye".into() },
        Frame::Enrolled { agent_id: "a".into(), host_id: "h".into(), name: "n".into(), epoch: 1, psk: [2; 32] },
        Frame::Stored,
    ];
    for frame in frames {
        assert_eq!(Frame::decode(&frame.encode()).unwrap(), frame);
    }
}
