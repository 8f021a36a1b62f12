fn main() {
    // The UI is embedded at compile time (`generate_context!`); a rebuilt UI must rebuild
    // the app, which cargo only knows if told.
    println!("cargo:rerun-if-changed=../ui/dist");
    tauri_build::build();
}
