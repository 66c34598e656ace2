//! Requests on the control socket: a 4-byte big-endian length, that many bytes of JSON, and
//! the command's output pipe passed along with them (`SCM_RIGHTS`), so that one supervisor
//! can run one command after another, each with a pipe of its own.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// The largest request a supervisor accepts (an argv and an environment, in JSON).
pub const MAX_REQUEST: usize = 16 << 20;

/// Room for one descriptor in a control message, in `u64`s so the buffer is aligned for
/// `cmsghdr`.
const CONTROL_WORDS: usize = 8;

/// Sends one request frame carrying `fd`.
pub fn send(socket: &UnixStream, payload: &[u8], fd: BorrowedFd<'_>) -> io::Result<()> {
    let length = u32::try_from(payload.len())
        .ok()
        .filter(|&length| length as usize <= MAX_REQUEST)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "request too large"))?;
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(payload);
    let mut iov = libc::iovec {
        iov_base: frame.as_mut_ptr().cast(),
        iov_len: frame.len(),
    };
    let mut control = [0u64; CONTROL_WORDS];
    // SAFETY: msghdr is plain data; every pointer set below stays valid during sendmsg, and the
    // control buffer is aligned for cmsghdr and large enough for one descriptor (CMSG_SPACE).
    let sent = unsafe {
        let space = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
        debug_assert!(space <= std::mem::size_of_val(&control));
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = &mut iov;
        message.msg_iovlen = 1;
        message.msg_control = control.as_mut_ptr().cast();
        message.msg_controllen = space as _;
        let header = libc::CMSG_FIRSTHDR(&message);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(header).cast::<RawFd>(), fd.as_raw_fd());
        libc::sendmsg(socket.as_raw_fd(), &message, libc::MSG_NOSIGNAL)
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    // A stream socket may take part of it; the descriptor went with the first byte.
    let mut rest = &frame[sent as usize..];
    let mut socket = socket;
    while !rest.is_empty() {
        let n = socket.write(rest)?;
        rest = &rest[n..];
    }
    Ok(())
}

/// Receives one request frame from the socket on `fd` (the supervisor's stdin): its JSON and
/// the descriptor that came with it. `Ok(None)` at end of file before a frame started; an
/// error for anything that is not one whole frame with exactly one descriptor.
pub fn receive(fd: RawFd) -> io::Result<Option<(Vec<u8>, OwnedFd)>> {
    let mut head = [0u8; 4];
    let mut control = [0u64; CONTROL_WORDS];
    let mut iov = libc::iovec {
        iov_base: head.as_mut_ptr().cast(),
        iov_len: head.len(),
    };
    // SAFETY: as in `send`; recvmsg writes at most the given lengths into our locals.
    let (received, passed) = unsafe {
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = &mut iov;
        message.msg_iovlen = 1;
        message.msg_control = control.as_mut_ptr().cast();
        message.msg_controllen = std::mem::size_of_val(&control) as _;
        let received = loop {
            let n = libc::recvmsg(fd, &mut message, libc::MSG_CMSG_CLOEXEC);
            if n >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                break n;
            }
        };
        if received < 0 {
            return Err(io::Error::last_os_error());
        }
        (received as usize, descriptors(&message))
    };
    if received == 0 && passed.is_empty() {
        return Ok(None);
    }
    let mut passed = passed.into_iter();
    let (Some(output), None) = (passed.next(), passed.next()) else {
        return Err(io::Error::other("a request came without exactly one pipe"));
    };
    // SAFETY: a borrowed view of our stdin for the rest of this call; ManuallyDrop keeps it open.
    let mut stdin = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    stdin.read_exact(&mut head[received..])?;
    let length = u32::from_be_bytes(head) as usize;
    if length > MAX_REQUEST {
        return Err(io::Error::other("request too large"));
    }
    let mut payload = vec![0u8; length];
    stdin.read_exact(&mut payload)?;
    Ok(Some((payload, output)))
}

/// Takes ownership of every descriptor a received message carries.
///
/// # Safety
/// `message` must be a message `recvmsg` just filled.
unsafe fn descriptors(message: &libc::msghdr) -> Vec<OwnedFd> {
    let mut found = Vec::new();
    let mut header = libc::CMSG_FIRSTHDR(message);
    while !header.is_null() {
        if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
            let data = libc::CMSG_DATA(header);
            let bytes = (*header).cmsg_len as usize - (data as usize - header as usize);
            for index in 0..bytes / std::mem::size_of::<RawFd>() {
                let raw = std::ptr::read_unaligned(data.cast::<RawFd>().add(index));
                found.push(OwnedFd::from_raw_fd(raw));
            }
        }
        header = libc::CMSG_NXTHDR(message, header);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_frame_carries_its_request_and_one_pipe() {
        let (gate, supervisor) = UnixStream::pair().expect("socketpair");
        let (mut reader, writer) = io::pipe().expect("pipe");
        let payload = vec![b'x'; 300_000];
        let sender = {
            let payload = payload.clone();
            std::thread::spawn(move || send(&gate, &payload, writer.as_fd()).map(|()| gate))
        };
        let (received, output) = receive(supervisor.as_raw_fd())
            .expect("receive")
            .expect("a frame");
        let gate = sender.join().expect("sender").expect("send");
        assert_eq!(received, payload);
        let mut output = std::fs::File::from(output);
        output.write_all(b"through the passed pipe").expect("write");
        drop(output);
        let mut text = String::new();
        reader.read_to_string(&mut text).expect("read");
        assert_eq!(text, "through the passed pipe");
        drop(gate);
        assert!(receive(supervisor.as_raw_fd()).expect("eof").is_none());
    }

    #[test]
    fn a_frame_without_a_pipe_is_refused() {
        let (mut gate, supervisor) = UnixStream::pair().expect("socketpair");
        gate.write_all(&[0, 0, 0, 2, b'{', b'}']).expect("write");
        let err = receive(supervisor.as_raw_fd()).expect_err("no pipe");
        assert!(err.to_string().contains("exactly one pipe"), "{err}");
    }
}
