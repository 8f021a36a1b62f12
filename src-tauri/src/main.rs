// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    #[cfg(target_os = "linux")]
    auraspeak_desktop::webkit_env::apply();
    auraspeak_desktop::run();
}
