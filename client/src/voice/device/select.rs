//! Choosing a device, and deciding when a running stream must move to another one.

use std::time::{Duration, Instant};

use super::{DeviceInfo, DeviceList, Direction};

/// Which device the user asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// Whatever the system default is now, following it when it changes.
    #[default]
    SystemDefault,
    /// A device by its stable id ([`DeviceInfo::id`]), as stored in settings.
    Id(String),
    /// A device by its human name ([`DeviceInfo::name`]), e.g. from a command-line flag.
    Name(String),
}

impl DeviceChoice {
    /// The chosen device in `list`, if present. An id wins over a name that happens to be
    /// equal: ids are unique, names need not be (two identical USB headsets).
    pub fn resolve<'a>(
        &self,
        list: &'a DeviceList,
        direction: Direction,
    ) -> Option<&'a DeviceInfo> {
        let devices = list.devices(direction);
        match self {
            Self::SystemDefault => {
                let id = list.default_id(direction)?;
                devices.iter().find(|d| d.id == id)
            }
            Self::Id(id) => devices.iter().find(|d| &d.id == id),
            Self::Name(name) => devices
                .iter()
                .find(|d| &d.name == name)
                .or_else(|| devices.iter().find(|d| d.name.eq_ignore_ascii_case(name)))
                .or_else(|| devices.iter().find(|d| &d.id == name)),
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SystemDefault => f.write_str("system default"),
            Self::Id(id) => write!(f, "id {id:?}"),
            Self::Name(name) => write!(f, "name {name:?}"),
        }
    }
}

/// What the driver should do with one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowerDecision {
    /// The stream is on the right device (or there is none to open and it is closed).
    Keep,
    /// (Re)build the stream on this device. `fallback` is true when it is the default
    /// standing in for a chosen device that is not there.
    Open { device: DeviceInfo, fallback: bool },
    /// The stream's device is gone and nothing can replace it: close it.
    Close,
}

/// Decides which device one stream should be on, as devices come and go. Pure: the
/// driver feeds it list snapshots, stream errors and build results, with `now`.
///
/// Order for a driver: [`handle_list`](Self::handle_list) with each poll's snapshot and act
/// on the decision; then [`handle_opened`](Self::handle_opened) or
/// [`handle_open_failed`](Self::handle_open_failed) with the result;
/// [`handle_stream_lost`](Self::handle_stream_lost) when the running stream reports that
/// its device is gone, then `handle_list` again.
#[derive(Debug, Clone)]
pub struct DeviceFollower {
    direction: Direction,
    choice: DeviceChoice,
    /// The device the running stream is on.
    current: Option<DeviceInfo>,
    /// A device whose stream could not be built, and when to try it again: a device that
    /// fails to open would otherwise be retried at every poll.
    failed: Option<(String, Instant)>,
    retry_after: Duration,
}

impl DeviceFollower {
    /// A follower for one direction, with no stream yet.
    pub fn new(direction: Direction, choice: DeviceChoice) -> Self {
        Self { direction, choice, current: None, failed: None, retry_after: Duration::from_secs(1) }
    }

    /// The device choice being followed.
    pub fn choice(&self) -> &DeviceChoice {
        &self.choice
    }

    /// The device the stream is on, if it is running.
    pub fn current(&self) -> Option<&DeviceInfo> {
        self.current.as_ref()
    }

    /// Follows a new choice from the next [`handle_list`](Self::handle_list) on.
    pub fn set_choice(&mut self, choice: DeviceChoice) {
        self.choice = choice;
        self.failed = None;
    }

    /// A device list snapshot at `now`: where should the stream be?
    pub fn handle_list(&mut self, now: Instant, list: &DeviceList) -> FollowerDecision {
        let (target, fallback) = match self.choice.resolve(list, self.direction) {
            Some(device) => (Some(device), false),
            // The chosen device is absent (unplugged, or not yet plugged in): keep the call
            // going on the default until it returns.
            None => (DeviceChoice::SystemDefault.resolve(list, self.direction), true),
        };
        let Some(target) = target else {
            let present =
                |d: &DeviceInfo| list.devices(self.direction).iter().any(|x| x.id == d.id);
            return match &self.current {
                // Nothing resolves, but the running stream's device is still there (e.g. no
                // default is set at all): leave it be.
                Some(current) if present(current) => FollowerDecision::Keep,
                Some(_) => FollowerDecision::Close,
                None => FollowerDecision::Keep,
            };
        };
        if self.current.as_ref().is_some_and(|c| c.id == target.id) {
            return FollowerDecision::Keep;
        }
        if let Some((id, at)) = &self.failed
            && *id == target.id
            && now.saturating_duration_since(*at) < self.retry_after
        {
            return FollowerDecision::Keep;
        }
        FollowerDecision::Open { device: target.clone(), fallback }
    }

    /// The stream was built on `device`.
    pub fn handle_opened(&mut self, device: DeviceInfo) {
        self.failed = None;
        self.current = Some(device);
    }

    /// Building a stream on `device` failed at `now`; it is retried after a pause.
    pub fn handle_open_failed(&mut self, now: Instant, device: &DeviceInfo) {
        self.failed = Some((device.id.clone(), now));
    }

    /// The running stream's device is gone (error callback, or absent from the list).
    /// Returns the device that was lost.
    pub fn handle_stream_lost(&mut self) -> Option<DeviceInfo> {
        self.current.take()
    }

    /// The stream was closed on purpose (or after [`FollowerDecision::Close`]).
    pub fn handle_closed(&mut self) {
        self.current = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(id: &str, name: &str) -> DeviceInfo {
        DeviceInfo { id: id.into(), name: name.into(), direction: Direction::Input }
    }

    fn list(ids: &[(&str, &str)], default: Option<&str>) -> DeviceList {
        DeviceList {
            inputs: ids.iter().map(|(id, name)| dev(id, name)).collect(),
            default_input: default.map(str::to_owned),
            ..DeviceList::default()
        }
    }

    #[test]
    fn chooses_by_id_name_or_default() {
        let l = list(
            &[("alsa_input.usb-1", "Headset"), ("alsa_input.pci", "Built-in"), ("x", "headset")],
            Some("alsa_input.pci"),
        );
        let d = Direction::Input;
        assert_eq!(DeviceChoice::SystemDefault.resolve(&l, d).unwrap().id, "alsa_input.pci");
        assert_eq!(DeviceChoice::Id("x".into()).resolve(&l, d).unwrap().name, "headset");
        // Exact name first, then case-insensitive, then an id given where a name was expected.
        assert_eq!(DeviceChoice::Name("headset".into()).resolve(&l, d).unwrap().id, "x");
        assert_eq!(
            DeviceChoice::Name("BUILT-IN".into()).resolve(&l, d).unwrap().id,
            "alsa_input.pci"
        );
        assert_eq!(
            DeviceChoice::Name("alsa_input.usb-1".into()).resolve(&l, d).unwrap().id,
            "alsa_input.usb-1"
        );
        assert!(DeviceChoice::Id("Headset".into()).resolve(&l, d).is_none());
        assert!(DeviceChoice::Id("x".into()).resolve(&l, Direction::Output).is_none());
        assert!(DeviceChoice::SystemDefault.resolve(&list(&[("a", "A")], None), d).is_none());
    }

    #[test]
    fn a_chosen_device_that_vanishes_falls_back_to_the_default_and_returns() {
        let t0 = Instant::now();
        let mut f = DeviceFollower::new(Direction::Input, DeviceChoice::Id("usb".into()));
        let both = list(&[("usb", "Headset"), ("pci", "Built-in")], Some("pci"));
        let FollowerDecision::Open { device, fallback: false } = f.handle_list(t0, &both) else {
            panic!("should open the chosen device");
        };
        assert_eq!(device.id, "usb");
        f.handle_opened(device);
        assert_eq!(f.handle_list(t0, &both), FollowerDecision::Keep);

        // Unplugged: the error callback reports it, the next snapshot lacks it.
        assert_eq!(f.handle_stream_lost().unwrap().id, "usb");
        let without = list(&[("pci", "Built-in")], Some("pci"));
        let FollowerDecision::Open { device, fallback: true } = f.handle_list(t0, &without) else {
            panic!("should fall back to the default");
        };
        assert_eq!(device.id, "pci");
        f.handle_opened(device);
        assert_eq!(f.handle_list(t0, &without), FollowerDecision::Keep);

        // Plugged back in: the stream returns to the chosen device.
        let FollowerDecision::Open { device, fallback: false } = f.handle_list(t0, &both) else {
            panic!("should return to the chosen device");
        };
        assert_eq!(device.id, "usb");
    }

    #[test]
    fn the_default_is_followed_when_it_changes() {
        let t0 = Instant::now();
        let mut f = DeviceFollower::new(Direction::Input, DeviceChoice::SystemDefault);
        let a = list(&[("a", "A"), ("b", "B")], Some("a"));
        let FollowerDecision::Open { device, .. } = f.handle_list(t0, &a) else { panic!() };
        f.handle_opened(device);
        let b = list(&[("a", "A"), ("b", "B")], Some("b"));
        assert!(
            matches!(f.handle_list(t0, &b), FollowerDecision::Open { device, .. } if device.id == "b")
        );
    }

    #[test]
    fn a_device_that_fails_to_open_is_retried_after_a_pause_and_no_device_closes() {
        let t0 = Instant::now();
        let mut f = DeviceFollower::new(Direction::Input, DeviceChoice::SystemDefault);
        let a = list(&[("a", "A")], Some("a"));
        let FollowerDecision::Open { device, .. } = f.handle_list(t0, &a) else { panic!() };
        f.handle_open_failed(t0, &device);
        assert_eq!(f.handle_list(t0 + Duration::from_millis(500), &a), FollowerDecision::Keep);
        assert!(matches!(
            f.handle_list(t0 + Duration::from_millis(1500), &a),
            FollowerDecision::Open { .. }
        ));
        f.handle_opened(device);

        // Every device gone and no default: close rather than keep a dead stream.
        assert_eq!(f.handle_list(t0, &list(&[], None)), FollowerDecision::Close);
        f.handle_closed();
        assert_eq!(f.handle_list(t0, &list(&[], None)), FollowerDecision::Keep);
    }
}
