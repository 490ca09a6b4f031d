//! `lantern-agent enroll`: one meeting with the controller, with a single-use token and the
//! controller's pin, that leaves both sides with the association.

use std::path::Path;
use std::time::Duration;

use agent_link::agent::AgentIdentity;
use agent_link::enrol::{AgentEnrolment, EnrolToken};
use agent_link::{AgentAssociations, Pin, StaticSecret};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::dial::{dial, Socket};
use crate::state::State;

const STEP_DEADLINE: Duration = Duration::from_secs(15);

pub async fn enroll(controller: &str, token: &str, pin: &str, state_path: &Path) -> anyhow::Result<()> {
    let token = EnrolToken::parse(token).map_err(|err| anyhow::anyhow!("the token: {err}"))?;
    let pin = Pin::parse(pin).map_err(|err| anyhow::anyhow!("the pin: {err}"))?;
    if state_path.exists() {
        anyhow::bail!("{} exists: this machine is enrolled already (remove it to enrol again)", state_path.display());
    }
    let config = crate::config::Config::default();
    let mut socket = dial(controller, config.ca_file.as_deref()).await?;
    let secret = StaticSecret::from_bytes(rand::random());
    let mut enrolment = AgentEnrolment::start(&token, pin, &secret, rand::random())?;
    send_all(&mut socket, &mut enrolment).await?;
    // The controller's key and proof: checked against the pin before anything of ours is sent.
    let answer = next(&mut socket).await?;
    if enrolment.handle_message(&answer)?.is_some() {
        anyhow::bail!("the controller skipped a step of the enrolment");
    }
    send_all(&mut socket, &mut enrolment).await?;
    let enrolled = enrolment
        .handle_message(&next(&mut socket).await?)?
        .ok_or_else(|| anyhow::anyhow!("the controller did not complete the enrolment"))?;
    let state = State {
        controller: controller.to_string(),
        pin: pin.to_string(),
        host_id: enrolled.host_id.clone(),
        name: enrolled.name.clone(),
        identity: AgentIdentity { agent_id: enrolled.agent_id, secret, controller_static: enrolled.controller_static },
        associations: AgentAssociations::new(enrolled.association),
    };
    state.save(state_path)?;
    enrolment.stored()?;
    send_all(&mut socket, &mut enrolment).await?;
    let _ = socket.close(None).await;
    println!("enrolled as host {:?} ({}); state in {}", state.host_id, state.name, state_path.display());
    Ok(())
}

async fn send_all(socket: &mut Socket, enrolment: &mut AgentEnrolment) -> anyhow::Result<()> {
    while let Some(message) = enrolment.take_outgoing() {
        tokio::time::timeout(STEP_DEADLINE, socket.send(Message::Binary(message.into())))
            .await
            .map_err(|_| anyhow::anyhow!("the controller stopped reading"))??;
    }
    Ok(())
}

/// The controller's next message, or why there is none (its close frame's reason).
pub async fn next(socket: &mut Socket) -> anyhow::Result<Vec<u8>> {
    loop {
        let message = tokio::time::timeout(STEP_DEADLINE, socket.next())
            .await
            .map_err(|_| anyhow::anyhow!("the controller did not answer within {} s", STEP_DEADLINE.as_secs()))?;
        match message {
            Some(Ok(Message::Binary(bytes))) => return Ok(bytes.to_vec()),
            Some(Ok(Message::Close(Some(frame)))) => anyhow::bail!("the controller refused: {}", frame.reason),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(_)) => anyhow::bail!("the controller sent an unexpected message"),
            Some(Err(err)) => return Err(err.into()),
            None => anyhow::bail!("the controller closed the connection"),
        }
    }
}
