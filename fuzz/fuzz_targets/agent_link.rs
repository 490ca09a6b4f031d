//! Both ends of a running agent connection, past a real handshake, fed an arbitrary script
//! (steps split on 0xff, the first byte picks the step): frames of arbitrary plaintext sealed
//! by the real peer, messages of arbitrary bytes, time passing, streams opened, output sent,
//! stores answered, and first messages of arbitrary bytes to a fresh controller. Never a panic;
//! once closed, an end stays closed.
#![no_main]

use agent_link::agent::AgentIdentity;
use agent_link::enrol::ControllerEnrolment;
use agent_link::*;
use libfuzzer_sys::fuzz_target;

fn pump(agent: &mut AgentLink, controller: &mut ControllerLink, now: u64) {
    for _ in 0..16 {
        let mut moved = false;
        while let Some(m) = agent.take_outgoing() {
            controller.handle_message(&m, now);
            moved = true;
        }
        while let Some(m) = controller.take_outgoing() {
            agent.handle_message(&m, now);
            moved = true;
        }
        while let Some(action) = agent.next_action() {
            moved = true;
            if let AgentAction::StoreAssociations { .. } = action {
                agent.associations_stored();
            }
        }
        while let Some(action) = controller.next_action() {
            moved = true;
            if let ControllerAction::CommitAssociations(_) = action {
                controller.associations_committed(now);
            }
        }
        if !moved {
            return;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let controller_secret = StaticSecret::from_bytes([1; 32]);
    let agent_secret = StaticSecret::from_bytes([5; 32]);
    let first = Association { epoch: 1, psk: Psk::from_bytes([9; 32]) };
    let identity = AgentIdentity {
        agent_id: "agent".into(),
        secret: agent_secret.clone(),
        controller_static: controller_secret.public(),
    };
    let config = ControllerConfig {
        handshake_ms: 1_000,
        ping_every_ms: 1_000,
        ping_timeout_ms: 500,
        refresh_every_ms: 5_000,
        refresh_timeout_ms: 2_000,
    };
    let agent_config = AgentConfig { handshake_ms: 1_000, version: "fuzz".into(), screen: true };
    let Ok(mut agent) = AgentLink::connect(
        &identity,
        AgentAssociations::new(first.clone()),
        Facts::default(),
        &agent_config,
        [6; 32],
        0,
    ) else {
        return;
    };
    let Some(hello) = agent.take_outgoing() else { return };
    let Ok((mut controller, _)) = ControllerLink::accept(&hello, config.clone(), 0) else { return };
    let known = KnownAgent {
        agent_public: agent_secret.public(),
        associations: ControllerAssociations::new(first),
        host_id: "h".into(),
        name: "H".into(),
    };
    controller.agent_found(&controller_secret, known, [8; 32], 0);
    let mut now = 0u64;
    pump(&mut agent, &mut controller, now);
    let mut stream = 0u32;
    for step in data.split(|&b| b == 0xff) {
        let Some((&op, rest)) = step.split_first() else { continue };
        let (agent_was_closed, controller_was_closed) = (agent.is_closed(), controller.is_closed());
        match op % 9 {
            0 => agent.send_plaintext(rest),
            1 => controller.send_plaintext(rest),
            2 => controller.handle_message(rest, now),
            3 => agent.handle_message(rest, now),
            4 => {
                now += u64::from(rest.first().copied().unwrap_or(1)) * 100;
                agent.poll(now);
                controller.poll(now);
            }
            5 => {
                let kind = match rest.first() {
                    Some(b) if b % 2 == 0 => OpenKind::Console { cols: 80, rows: 25 },
                    _ => OpenKind::Directive {
                        command: "true".into(),
                        timeout_ms: 1_000,
                        max_output: 1 << 20,
                        kerberos: None,
                    },
                };
                if let Ok(opened) = controller.open_stream(kind) {
                    stream = opened;
                }
            }
            6 => {
                agent.send_output(stream, OutputChannel::Stdout, rest);
                controller.send_input(stream, rest);
            }
            7 => {
                controller.output_consumed(stream, rest.len() * 1024);
                agent.input_consumed(stream, rest.len() * 1024);
                controller.cancel(stream);
            }
            _ => {
                if let Ok((mut fresh, _)) = ControllerLink::accept(rest, config.clone(), now) {
                    let known = KnownAgent {
                        agent_public: agent_secret.public(),
                        associations: ControllerAssociations::new(Association {
                            epoch: 1,
                            psk: Psk::from_bytes([9; 32]),
                        }),
                        host_id: "h".into(),
                        name: "H".into(),
                    };
                    fresh.agent_found(&controller_secret, known, [8; 32], now);
                }
                let _ = ControllerEnrolment::accept(rest);
            }
        }
        pump(&mut agent, &mut controller, now);
        assert!(!agent_was_closed || agent.is_closed());
        assert!(!controller_was_closed || controller.is_closed());
    }
});
