package callback

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The published vectors of /work/shared/wecom/VECTORS.md (WeCom page 90968).
const (
	vecToken  = "QDG6eK"
	vecKey    = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	vecCorp   = "wx5823bf96d3bd56c7"
	v1Echostr = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
	v2Encrypt = "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
	v2Plain   = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n" +
		"<FromUserName><![CDATA[mycreate]]></FromUserName>\n" +
		"<CreateTime>1409659813</CreateTime>\n" +
		"<MsgType><![CDATA[text]]></MsgType>\n" +
		"<Content><![CDATA[hello]]></Content>\n" +
		"<MsgId>4561255354251345929</MsgId>\n" +
		"<AgentID>218</AgentID>\n" +
		"</xml>"
	v2Body = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[" + v2Encrypt +
		"]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
)

// vectors are V1 and V2 with everything a test needs to replay them.
var vectors = []struct {
	name, random, plain, timestamp, nonce, signature, encrypt string
}{
	{"V1 URL verification", "c41b64491c2468d0", "1616140317555161061", "1409659589", "263014780",
		"5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", v1Echostr},
	{"V2 message", "0960688932c47ef1", v2Plain, "1409659813", "1372623149",
		"477715d11cdb4164915debcba66cb864d751f3e6", v2Encrypt},
}

func vectorCrypto(tb testing.TB) *Crypto {
	tb.Helper()
	c, err := NewCrypto(vecToken, vecKey, vecCorp)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestVectors(t *testing.T) {
	t.Parallel()
	if len(v2Plain) != 284 {
		t.Fatalf("V2 plaintext is %d bytes, VECTORS.md says 284", len(v2Plain))
	}
	c := vectorCrypto(t)
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			if got := Signature(vecToken, v.timestamp, v.nonce, v.encrypt); got != v.signature {
				t.Errorf("Signature = %s, want %s", got, v.signature)
			}
			if !c.Verify(v.signature, v.timestamp, v.nonce, v.encrypt) {
				t.Error("Verify rejected the published signature")
			}
			plain, err := c.Decrypt(v.encrypt)
			if err != nil || string(plain) != v.plain {
				t.Errorf("Decrypt = %q, %v; want %q", plain, err, v.plain)
			}
			enc, err := c.Encrypt([]byte(v.plain), []byte(v.random))
			if err != nil || enc != v.encrypt {
				t.Errorf("Encrypt = %s, %v; want %s", enc, err, v.encrypt)
			}
		})
	}
}

func TestNewCryptoRejectsBadCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, token, key, receiveID string }{
		{"key too short", vecToken, vecKey[:42], vecCorp},
		{"key too long", vecToken, vecKey + "A", vecCorp},
		{"key not base64", vecToken, "*" + vecKey[1:], vecCorp},
		{"no token", "", vecKey, vecCorp},
		{"no receive ID", vecToken, vecKey, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if c, err := NewCrypto(tt.token, tt.key, tt.receiveID); err == nil {
				t.Errorf("NewCrypto = %v, want an error", c)
			}
		})
	}
}

func TestVerifyRejectsTampering(t *testing.T) {
	t.Parallel()
	c := vectorCrypto(t)
	const sig, ts, nonce = "477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149"
	tests := []struct{ name, sig, ts, nonce, encrypt string }{
		{"signature", "577715d11cdb4164915debcba66cb864d751f3e6", ts, nonce, v2Encrypt},
		{"upper-case signature", strings.ToUpper(sig), ts, nonce, v2Encrypt},
		{"truncated signature", sig[:39], ts, nonce, v2Encrypt},
		{"empty signature", "", ts, nonce, v2Encrypt},
		{"timestamp", sig, "1409659814", nonce, v2Encrypt},
		{"nonce", sig, ts, "1372623148", v2Encrypt},
		{"encrypt", sig, ts, nonce, v1Echostr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if c.Verify(tt.sig, tt.ts, tt.nonce, tt.encrypt) {
				t.Error("Verify = true, want false")
			}
		})
	}
}

// framed builds an unpadded plaintext as WeCom lays it out, with a length field that may lie.
func framed(length uint32, msg, receiveID string) []byte {
	b := append([]byte("0123456789abcdef"), binary.BigEndian.AppendUint32(nil, length)...)
	return append(append(b, msg...), receiveID...)
}

// padded appends pad copies of byte(pad); callers pick pad so the result is whole AES blocks.
func padded(plain []byte, pad int) []byte {
	return append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
}

func TestDecryptRejectsMalformed(t *testing.T) {
	t.Parallel()
	c := vectorCrypto(t)
	ok := framed(5, "hello", vecCorp) // 43 bytes: pad 21 to reach 64
	mixedPad := padded(framed(5, "hello", vecCorp), 21)
	mixedPad[len(mixedPad)-21] = 20
	raw, _ := base64.StdEncoding.DecodeString(v2Encrypt)
	tests := []struct {
		name    string
		encrypt string
		want    error
	}{
		{"not base64", "%%%", ErrBadBase64},
		{"truncated base64", v2Encrypt[:len(v2Encrypt)-1], ErrBadBase64},
		{"empty", "", ErrBadCiphertext},
		{"one block", c.seal(make([]byte, 16)), ErrBadCiphertext},
		{"not whole blocks", base64.StdEncoding.EncodeToString(raw[:len(raw)-3]), ErrBadCiphertext},
		{"pad byte 0", c.seal(append(padded(ok, 20), 0)), ErrBadPadding},
		{"pad byte 33", c.seal(padded(framed(9, "hello you", vecCorp), 33)), ErrBadPadding},
		{"pad bytes not all equal", c.seal(mixedPad), ErrBadPadding},
		{"nothing but padding", c.seal(bytes.Repeat([]byte{32}, 32)), ErrBadLength},
		{"no room for the length field", c.seal(padded([]byte("0123456789abcdef"), 16)), ErrBadLength},
		{"length one past the end", c.seal(padded(framed(5+18+1, "hello", vecCorp), 21)), ErrBadLength},
		{"length 2^32-1", c.seal(padded(framed(1<<32-1, "hello", vecCorp), 21)), ErrBadLength},
		{"another receive ID", c.seal(padded(framed(5, "hello", "wx0000000000000000"), 21)), ErrReceiveID},
		{"receive ID cut short", c.seal(padded(framed(6, "hello", vecCorp), 21)), ErrReceiveID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if msg, err := c.Decrypt(tt.encrypt); !errors.Is(err, tt.want) {
				t.Errorf("Decrypt = %q, %v; want %v", msg, err, tt.want)
			}
		})
	}
}

// TestDecryptAcceptsEveryPad round-trips messages whose padding covers 1..32: a 16-byte PKCS#7
// unpad would reject the pads above 16, as it rejects V2.
func TestDecryptAcceptsEveryPad(t *testing.T) {
	t.Parallel()
	c := vectorCrypto(t)
	for n := range 2 * padBlock {
		msg := bytes.Repeat([]byte{'m'}, n)
		enc, err := c.Encrypt(msg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.Decrypt(enc); err != nil || !bytes.Equal(got, msg) {
			t.Errorf("%d bytes: Decrypt = %q, %v", n, got, err)
		}
	}
}

func TestEncryptPrefix(t *testing.T) {
	t.Parallel()
	c := vectorCrypto(t)
	if _, err := c.Encrypt([]byte("hi"), make([]byte, 15)); err == nil {
		t.Error("Encrypt accepted a 15-byte random prefix")
	}
	a, _ := c.Encrypt([]byte("hi"), nil)
	b, _ := c.Encrypt([]byte("hi"), nil)
	if a == b {
		t.Error("two encryptions with a random prefix are identical")
	}
}
