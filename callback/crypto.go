package callback

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
)

// WeCom's callback encryption (page 90968): AES-256-CBC with IV = key[:16] over
// 16 random bytes ‖ uint32 big-endian len(msg) ‖ msg ‖ ReceiveId, PKCS#7-padded to 32 bytes,
// not to AES's 16: a 16-byte unpad rejects real messages (the published V2 vector has pad 30).
const (
	padBlock   = 32
	headerSize = 16 + 4 // random prefix and length field
)

// Decrypt's errors are sentinels so the HTTP handler can map them to statuses (SPEC §6): the first
// four mean a malformed request (400), ErrReceiveID a message meant for another corp (401).
var (
	ErrBadBase64     = errors.New("callback: Encrypt is not valid base64")
	ErrBadCiphertext = errors.New("callback: ciphertext is too short or not whole AES blocks")
	ErrBadPadding    = errors.New("callback: bad PKCS#7 padding")
	ErrBadLength     = errors.New("callback: message length field points past the end")
	ErrReceiveID     = errors.New("callback: message is for another ReceiveId")
)

// Crypto holds one URL's credentials: the Token that signs requests, the 32-byte key from the
// EncodingAESKey, and the ReceiveId (corp ID) a message must carry to be accepted. The app's URL
// and the contacts-sync URL each have their own. It is safe for concurrent use.
type Crypto struct {
	token     string
	key       []byte
	block     cipher.Block
	receiveID string
}

// NewCrypto checks the credentials as WeCom's admin console configures them, so a typo fails when
// the authenticator is loaded rather than as 401s at the first callback.
func NewCrypto(token, encodingAESKey, receiveID string) (*Crypto, error) {
	if token == "" || receiveID == "" {
		return nil, errors.New("callback: Token and ReceiveId are required")
	}
	if len(encodingAESKey) != 43 {
		return nil, fmt.Errorf("callback: EncodingAESKey must be 43 characters, got %d", len(encodingAESKey))
	}
	// Not StrictEncoding: real keys leave non-zero bits in the last character (the vectors' does).
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil {
		return nil, errors.New("callback: EncodingAESKey is not base64")
	}
	block, err := aes.NewCipher(key) // 43 base64 characters always decode to 32 bytes
	if err != nil {
		return nil, fmt.Errorf("callback: EncodingAESKey: %w", err)
	}
	return &Crypto{token: token, key: key, block: block, receiveID: receiveID}, nil
}

// Signature is WeCom's msg_signature: hex(sha1(concat(sort([token, timestamp, nonce, encrypt])))).
// For the GET verification encrypt is the echostr.
func Signature(token, timestamp, nonce, encrypt string) string {
	var sig [2 * sha1.Size]byte
	signature(&sig, token, timestamp, nonce, encrypt)
	return string(sig[:])
}

// signature writes Signature into sig without allocating for a callback's usual sizes: the four
// strings are sorted in place and hashed from one buffer on the stack.
func signature(sig *[2 * sha1.Size]byte, token, timestamp, nonce, encrypt string) {
	p := [...]string{token, timestamp, nonce, encrypt}
	// Insertion sort: four strings, no slice header for slices.Sort to keep.
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j] < p[j-1]; j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
	var stack [4096]byte
	buf := append(append(append(append(stack[:0], p[0]...), p[1]...), p[2]...), p[3]...)
	sum := sha1.Sum(buf)
	hex.Encode(sig[:], sum[:])
}

// Verify reports whether msgSignature signs the request with c's Token. The comparison is
// constant-time so that response timing does not reveal how much of a forged signature is right;
// WeCom sends lower-case hex, anything else is false.
func (c *Crypto) Verify(msgSignature, timestamp, nonce, encrypt string) bool {
	var want [2 * sha1.Size]byte
	signature(&want, c.token, timestamp, nonce, encrypt)
	if len(msgSignature) != len(want) {
		return false
	}
	var diff byte
	for i := range want {
		diff |= msgSignature[i] ^ want[i]
	}
	return subtle.ConstantTimeByteEq(diff, 0) == 1
}

// Decrypt returns the message inside encrypt (an echostr or an Envelope's Encrypt), checking every
// bound so that hostile input yields one of the sentinel errors, never a panic. Verify first: an
// unauthenticated caller must not learn which check failed (a padding oracle).
func (c *Crypto) Decrypt(encrypt string) ([]byte, error) {
	data, err := base64.StdEncoding.DecodeString(encrypt)
	if err != nil {
		return nil, ErrBadBase64
	}
	// The shortest valid plaintext (header plus at least one pad byte) takes two AES blocks.
	if len(data) < 2*aes.BlockSize || len(data)%aes.BlockSize != 0 {
		return nil, ErrBadCiphertext
	}
	// In place: the decoded ciphertext is this call's own buffer.
	cipher.NewCBCDecrypter(c.block, c.key[:aes.BlockSize]).CryptBlocks(data, data)
	plain, err := unpad(data)
	if err != nil {
		return nil, err
	}
	if len(plain) < headerSize {
		return nil, ErrBadLength
	}
	rest := plain[headerSize:]
	n := binary.BigEndian.Uint32(plain[16:headerSize])
	if uint64(n) > uint64(len(rest)) {
		return nil, ErrBadLength
	}
	if subtle.ConstantTimeCompare(rest[n:], []byte(c.receiveID)) != 1 {
		return nil, ErrReceiveID
	}
	return rest[:n:n], nil
}

// unpad strips strict PKCS#7 padding to 32 bytes: 1 to 32 bytes, all equal to their count.
func unpad(plain []byte) ([]byte, error) {
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > padBlock || pad > len(plain) {
		return nil, ErrBadPadding
	}
	body, padding := plain[:len(plain)-pad], plain[len(plain)-pad:]
	for _, b := range padding {
		if int(b) != pad {
			return nil, ErrBadPadding
		}
	}
	return body, nil
}

// Encrypt is Decrypt's inverse, for answers and for tests. random16 is the 16-byte random prefix;
// nil draws it from crypto/rand, a fixed one reproduces WeCom's published vectors.
func (c *Crypto) Encrypt(msg []byte, random16 []byte) (string, error) {
	if random16 == nil {
		random16 = make([]byte, 16)
		rand.Read(random16) // never fails: crypto/rand crashes the program instead
	}
	if len(random16) != 16 {
		return "", fmt.Errorf("callback: random prefix must be 16 bytes, got %d", len(random16))
	}
	if uint64(len(msg)) > math.MaxUint32 {
		return "", errors.New("callback: message too long for the 4-byte length field")
	}
	size := headerSize + len(msg) + len(c.receiveID)
	pad := padBlock - size%padBlock
	plain := make([]byte, size+pad)
	copy(plain, random16)
	binary.BigEndian.PutUint32(plain[16:headerSize], uint32(len(msg)))
	copy(plain[headerSize:], msg)
	copy(plain[headerSize+len(msg):], c.receiveID)
	for i := size; i < len(plain); i++ {
		plain[i] = byte(pad)
	}
	return c.seal(plain), nil
}

// seal encrypts whole AES blocks without padding them; tests use it to craft bad plaintexts.
func (c *Crypto) seal(plain []byte) string {
	data := make([]byte, len(plain))
	cipher.NewCBCEncrypter(c.block, c.key[:aes.BlockSize]).CryptBlocks(data, plain)
	return base64.StdEncoding.EncodeToString(data)
}
