fn main() {
    eprintln!("dmpfeed: command line not built yet");
    std::process::exit(2);
}
