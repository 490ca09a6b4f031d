#!/usr/bin/env python3
"""Writes known_answers.txt from an implementation independent of the Rust code.

RC4 and HMAC-SHA1 vectors are the published ones (RFC 6229, RFC 2202) and are checked here
against Python's own RC4 and hmac before being written. The key-chain, traffic-key and sealed
record vectors are computed from their definitions in DESIGN.md and shared/src/crypto with
hashlib/hmac only, so the Rust code is tested against a second implementation.
Run: python3 shared/tests/vectors/generate.py > shared/tests/vectors/known_answers.txt
"""
import hashlib
import hmac

def rc4(key, n):
    s = list(range(256)); j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) & 0xff; s[i], s[j] = s[j], s[i]
    i = j = 0; out = bytearray()
    for _ in range(n):
        i = (i + 1) & 0xff; j = (j + s[i]) & 0xff; s[i], s[j] = s[j], s[i]
        out.append(s[(s[i] + s[j]) & 0xff])
    return bytes(out)

RFC6229 = {
    "0102030405": {
        0x0000: "b2396305f03dc027ccc3524a0a1118a8", 0x0010: "6982944f18fc82d589c403a47a0d0919",
        0x00f0: "28cb1132c96ce286421dcaadb8b69eae", 0x0100: "1cfcf62b03eddb641d77dfcf7f8d8c93",
        0x01f0: "42b7d0cdd918a8a33dd51781c81f4041", 0x0200: "6459844432a7da923cfb3eb4980661f6",
        0x02f0: "ec10327bde2beefd18f9277680457e22", 0x0300: "eb62638d4f0ba1fe9fca20e05bf8ff2b",
        0x03f0: "45129048e6a0ed0b56b490338f078da5", 0x0400: "30abbcc7c20b01609f23ee2d5f6bb7df",
        0x05f0: "3294f744d8f9790507e70f62e5bbceea", 0x0600: "d8729db41882259bee4f825325f5a130",
        0x07f0: "1eb14a0c13b3bf47fa2a0ba93ad45b8b", 0x0800: "cc582f8ba9f265e2b1be9112e975d2d7",
        0x0bf0: "f2e30f9bd102ecbf75aaade9bc35c43c", 0x0c00: "ec0e11c479dc329dc8da7968fe965681",
        0x0ff0: "068326a2118416d21f9d04b2cd1ca050", 0x1000: "ff25b58995996707e51fbdf08b34d875",
    },
    "0102030405060708090a0b0c0d0e0f10": {
        0x0000: "9ac7cc9a609d1ef7b2932899cde41b97", 0x0010: "5248c4959014126a6e8a84f11d1a9e1c",
        0x00f0: "065902e4b620f6cc36c8589f66432f2b", 0x0100: "d39d566bc6bce3010768151549f3873f",
        0x01f0: "b6d1e6c4a5e4771cad79538df295fb11", 0x0200: "c68c1d5c559a974123df1dbc52a43b89",
        0x02f0: "c5ecf88de897fd57fed301701b82a259", 0x0300: "eccbe13de1fcc91c11a0b26c0bc8fa4d",
        0x03f0: "e7a72574f8782ae26aabcf9ebcd66065", 0x0400: "bdf0324e6083dcc6d3cedd3ca8c53c16",
        0x05f0: "b40110c4190b5622a96116b0017ed297", 0x0600: "ffa0b514647ec04f6306b892ae661181",
        0x07f0: "d03d1bc03cd33d70dff9fa5d71963ebd", 0x0800: "8a44126411eaa78bd51e8d87a8879bf5",
        0x0bf0: "fabeb76028ade2d0e48722e46c4615a3", 0x0c00: "c05d88abd50357f935a63c59ee537623",
        0x0ff0: "ff38265c1642c1abe8d3c2fe5e572bf8", 0x1000: "a36a4c301ae8ac13610ccbc12256cacc",
    },
    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20": {
        0x0000: "eaa6bd25880bf93d3f5d1e4ca2611d91", 0x0010: "cfa45c9f7e714b54bdfa80027cb14380",
        0x00f0: "114ae344ded71b35f2e60febad727fd8", 0x0100: "02e1e7056b0f623900496422943e97b6",
        0x01f0: "91cb93c787964e10d9527d999c6f936b", 0x0200: "49b18b42f8e8367cbeb5ef104ba1c7cd",
        0x02f0: "87084b3ba700bade955610672745b374", 0x0300: "e7a7b9e9ec540d5ff43bdb12792d1b35",
        0x03f0: "c799b596738f6b018c76c74b1759bd90", 0x0400: "7fec5bfd9f9b89ce6548309092d7e958",
        0x05f0: "40f250b26d1f096a4afd4c340a588815", 0x0600: "3e34135c79db010200767651cf263073",
        0x07f0: "f656abccf88dd827027b2ce917d464ec", 0x0800: "18b62503bfbc077fbabb98f20d98ab34",
        0x0bf0: "8aed95ee5b0dcbfbef4eb21d3a3f52f9", 0x0c00: "625a1ab00ee39a5327346bddb01a9c18",
        0x0ff0: "a13a7c79c7e119b5ab0296ab28c300b9", 0x1000: "f3e4c0a2e02d1d01f7f0a74618af2b48",
    },
}

RFC2202 = [
    (b"\x0b" * 20, b"Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"),
    (b"Jefe", b"what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
    (b"\xaa" * 20, b"\xdd" * 50, "125d7342b9ac11cd91a39af48aa17b4f63f175d3"),
    (bytes(range(1, 26)), b"\xcd" * 50, "4c9007f4026250c6bc8414f9bf50c86c2d7235da"),
    (b"\x0c" * 20, b"Test With Truncation", "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"),
    (b"\xaa" * 80, b"Test Using Larger Than Block-Size Key - Hash Key First", "aa4ae5e15272d00e95705637ce8a3b55ed402112"),
    (b"\xaa" * 80, b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data", "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"),
]

def hkdf_expand_sha1(prk, info, length):
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha1).digest(); out += t; i += 1
    return out[:length]

def chain(pms, n):
    k = hashlib.sha1(pms + b"\0" * 20).digest()
    for _ in range(n):
        k = hashlib.sha1(pms + k).digest()
    return k

def traffic(pms, suite, direction, generation, epoch, cn, sn):
    info = (b"lantern v1 traffic" + bytes([direction, suite]) + generation.to_bytes(2, "big")
            + epoch.to_bytes(4, "big") + cn + sn)
    okm = hkdf_expand_sha1(chain(pms, epoch), info, 52)
    return okm[:32], okm[32:]

def main():
    print("# Known-answer vectors, read by the native and the wasm tests. Generated by generate.py.")
    print("# rc4: RFC 6229 keystream; offsets past 3072 cover the dropped prefix of rc4-hmac-sha1.")
    for key, table in RFC6229.items():
        stream = rc4(bytes.fromhex(key), 0x1010)
        for off, want in table.items():
            assert stream[off:off + 16].hex() == want, (key, off)
            print(f"rc4 key={key} offset={off} stream={want}")
    print("# hmac-sha1: RFC 2202 section 3")
    for key, data, want in RFC2202:
        assert hmac.new(key, data, hashlib.sha1).hexdigest() == want
        print(f"hmac-sha1 key={key.hex()} data={data.hex()} mac={want}")
    pms = bytes(range(32))
    cn = bytes([0xc0 + (i % 16) for i in range(32)])
    sn = bytes([0x50 + (i % 16) for i in range(32)])
    print("# chain: K0 = SHA1(PMS || 0^20), K(n+1) = SHA1(PMS || K(n))")
    for n in range(4):
        print(f"chain pms={pms.hex()} epoch={n} key={chain(pms, n).hex()}")
    print("# traffic: HKDF-Expand-SHA1(K(epoch), 'lantern v1 traffic' | dir | suite | gen | epoch | nonce_c | nonce_s), 32 enc + 20 mac")
    for suite in (1, 2):
        for direction in (1, 2):
            for generation, epoch in ((0, 0), (0, 1), (3, 2)):
                enc, mac = traffic(pms, suite, direction, generation, epoch, cn, sn)
                print(f"traffic pms={pms.hex()} suite={suite} direction={direction} generation={generation} "
                      f"epoch={epoch} client_nonce={cn.hex()} server_nonce={sn.hex()} enc={enc.hex()} mac={mac.hex()}")
    print("# seal-rc4: first record of epoch 0, client to server: RC4-drop[3072](enc[:16]), HMAC-SHA1(mac, seq | header | ct)")
    enc, mac = traffic(pms, 1, 1, 0, 0, cn, sn)
    plaintext = bytes([2, 2]) + b"\x05" + b"echo hello-lantern"
    header = bytes([0x17, 0, 0, 0, 0, 0, 0])
    ks = rc4(enc[:16], 3072 + len(plaintext))[3072:]
    ct = bytes(a ^ b for a, b in zip(plaintext, ks))
    tag = hmac.new(mac, (0).to_bytes(8, "big") + header + ct, hashlib.sha1).digest()
    print(f"seal-rc4 pms={pms.hex()} client_nonce={cn.hex()} server_nonce={sn.hex()} seq=0 "
          f"header={header.hex()} plaintext={plaintext.hex()} body={(ct + tag).hex()}")

main()
