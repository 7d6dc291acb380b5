// Realistic carrier messages for benchmarks: an outbound INVITE with SDP as a
// class-5 switch sends it, and the 302 the analytics service answers with
// (SHAKEN Identity header and two route Contacts). About 1 KB each.
#pragma once

#include <string>

namespace sigrelay::bench {

inline std::string sample_invite() {
  const std::string sdp =
      "v=0\r\n"
      "o=- 3912284561 3912284561 IN IP4 198.51.100.20\r\n"
      "s=-\r\n"
      "c=IN IP4 198.51.100.20\r\n"
      "t=0 0\r\n"
      "m=audio 31844 RTP/AVP 0 8 18 101\r\n"
      "a=rtpmap:0 PCMU/8000\r\n"
      "a=rtpmap:8 PCMA/8000\r\n"
      "a=rtpmap:18 G729/8000\r\n"
      "a=fmtp:18 annexb=no\r\n"
      "a=rtpmap:101 telephone-event/8000\r\n"
      "a=fmtp:101 0-15\r\n"
      "a=ptime:20\r\n"
      "a=sendrecv\r\n";
  return "INVITE sip:+12125551234@198.51.100.1:5060;user=phone SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK3c8a1f5d0b7e2a94c1;rport\r\n"
         "Max-Forwards: 70\r\n"
         "From: \"WIRELESS CALLER\" <sip:+13035550147@198.51.100.20;user=phone>;tag=a73kszlfl\r\n"
         "To: <sip:+12125551234@198.51.100.1;user=phone>\r\n"
         "Call-ID: 7d1f0e5c-2a4b-4c3e-9f8a-6b2d1e0c9a7f@198.51.100.20\r\n"
         "CSeq: 101 INVITE\r\n"
         "Contact: <sip:+13035550147@198.51.100.20:5060;transport=udp>\r\n"
         "P-Asserted-Identity: \"WIRELESS CALLER\" <sip:+13035550147@198.51.100.20;user=phone>\r\n"
         "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, REFER, NOTIFY\r\n"
         "Supported: 100rel, timer, replaces\r\n"
         "Session-Expires: 1800;refresher=uac\r\n"
         "Min-SE: 90\r\n"
         "User-Agent: CarrierSwitch/9.4.2\r\n"
         "Content-Type: application/sdp\r\n"
         "Content-Length: " + std::to_string(sdp.size()) + "\r\n"
         "\r\n" + sdp;
}

inline std::string sample_302() {
  return "SIP/2.0 302 Moved Temporarily\r\n"
         "Via: SIP/2.0/TLS 203.0.113.5:5061;branch=z9hG4bK-sr1-0100002a0007d41b8c9e3f5a7b21\r\n"
         "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK3c8a1f5d0b7e2a94c1;rport=5060\r\n"
         "From: \"WIRELESS CALLER\" <sip:+13035550147@198.51.100.20;user=phone>;tag=a73kszlfl\r\n"
         "To: <sip:+12125551234@198.51.100.1;user=phone>;tag=svc-91c2e4\r\n"
         "Call-ID: 7d1f0e5c-2a4b-4c3e-9f8a-6b2d1e0c9a7f@198.51.100.20\r\n"
         "CSeq: 101 INVITE\r\n"
         "Contact: <sip:+12125551234@192.0.2.10:5060;transport=udp>;q=1.0\r\n"
         "Contact: <sip:+12125551234@192.0.2.11:5060;transport=udp>;q=0.5\r\n"
         "Identity: eyJhbGciOiJFUzI1NiIsInBwdCI6InNoYWtlbiIsInR5cCI6InBhc3Nwb3J0IiwieDV1Ijoi"
         "aHR0cHM6Ly9jZXJ0LmV4YW1wbGUuY29tL3NoYWtlbi5wZW0ifQ.eyJhdHRlc3QiOiJBIiwiZGVzdCI6eyJ0"
         "biI6WyIxMjEyNTU1MTIzNCJdfSwiaWF0IjoxNzk1NTEwNDAwLCJvcmlnIjp7InRuIjoiMTMwMzU1NTAxNDci"
         "fSwib3JpZ2lkIjoiNGYzYzBhMmUtOWI3ZC00YTFlLThjNmYtMmQ1YjNlOGE3YzFkIn0.Qm9ndXNTaWduYXR1"
         "cmVGb3JCZW5jaG1hcmtPbmx5Qm9ndXNTaWduYXR1cmVGb3JCZW5jaG1hcmtPbmx5QUJDREVGR0hJSktMTU5P"
         ";info=<https://cert.example.com/shaken.pem>;alg=ES256;ppt=shaken\r\n"
         "P-Attestation-Indicator: A\r\n"
         "Reason: SIP;cause=302;text=\"route\"\r\n"
         "Server: AnalyticsService/3.1\r\n"
         "Content-Length: 0\r\n"
         "\r\n";
}

}  // namespace sigrelay::bench
