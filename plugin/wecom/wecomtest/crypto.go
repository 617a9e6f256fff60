package wecomtest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// WeCom's callback encryption (page 90968): AES-256-CBC with key = base64(EncodingAESKey+"="),
// IV = key[:16], PKCS#7 padding to 32-byte blocks (not AES's 16), over
// random(16) ‖ uint32 BE len(msg) ‖ msg ‖ receiveID.

const cryptoBlock = 32

func callbackKey(encodingAESKey string) ([]byte, error) {
	if len(encodingAESKey) != 43 {
		return nil, fmt.Errorf("wecomtest: EncodingAESKey must be 43 characters, got %d", len(encodingAESKey))
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, errors.New("wecomtest: EncodingAESKey is not valid base64 of 32 bytes")
	}
	return key, nil
}

// Encrypt encrypts msg the way WeCom does for callbacks. random16 is the 16-byte random prefix;
// nil draws one from crypto/rand (pass the published prefix to reproduce WeCom's vectors).
func Encrypt(encodingAESKey, receiveID string, random16 []byte, msg []byte) (string, error) {
	key, err := callbackKey(encodingAESKey)
	if err != nil {
		return "", err
	}
	if random16 == nil {
		random16 = make([]byte, 16)
		if _, err := rand.Read(random16); err != nil {
			return "", err
		}
	}
	if len(random16) != 16 {
		return "", fmt.Errorf("wecomtest: random prefix must be 16 bytes, got %d", len(random16))
	}
	plain := make([]byte, 0, 20+len(msg)+len(receiveID)+cryptoBlock)
	plain = append(plain, random16...)
	plain = binary.BigEndian.AppendUint32(plain, uint32(len(msg)))
	plain = append(plain, msg...)
	plain = append(plain, receiveID...)
	pad := cryptoBlock - len(plain)%cryptoBlock
	for range pad {
		plain = append(plain, byte(pad))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(plain, plain)
	return base64.StdEncoding.EncodeToString(plain), nil
}

// Decrypt reverses Encrypt, strictly: bad base64, a length that is not whole AES blocks, padding
// outside 1–32 or inconsistent, or a length field pointing past the end are all errors.
func Decrypt(encodingAESKey, encrypted string) (msg []byte, receiveID string, err error) {
	key, err := callbackKey(encodingAESKey)
	if err != nil {
		return nil, "", err
	}
	data, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil {
		return nil, "", fmt.Errorf("wecomtest: encrypted text is not base64: %w", err)
	}
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, "", errors.New("wecomtest: encrypted text is not whole AES blocks")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, "", err
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(plain, data)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > cryptoBlock || pad > len(plain) {
		return nil, "", errors.New("wecomtest: bad padding")
	}
	for _, b := range plain[len(plain)-pad:] {
		if int(b) != pad {
			return nil, "", errors.New("wecomtest: bad padding")
		}
	}
	plain = plain[:len(plain)-pad]
	if len(plain) < 20 {
		return nil, "", errors.New("wecomtest: plaintext too short")
	}
	n := binary.BigEndian.Uint32(plain[16:20])
	if uint64(n) > uint64(len(plain)-20) {
		return nil, "", errors.New("wecomtest: message length exceeds plaintext")
	}
	return plain[20 : 20+n], string(plain[20+n:]), nil
}

// Signature is WeCom's msg_signature: hex(sha1(concat(sort(token, timestamp, nonce, encrypt)))).
func Signature(token, timestamp, nonce, encrypt string) string {
	parts := []string{token, timestamp, nonce, encrypt}
	sort.Strings(parts)
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(sum[:])
}
