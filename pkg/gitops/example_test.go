package gitops_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/switchyard-dev/switchyard/pkg/gitops"
)

func ExampleVerifyGitHubSignature() {
	secret := []byte("s3cret")
	body := []byte(`{"ref":"refs/heads/main"}`)
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	header := "sha256=" + hex.EncodeToString(mac.Sum(nil))

	fmt.Println(gitops.VerifyGitHubSignature(secret, body, header))
	fmt.Println(gitops.VerifyGitHubSignature([]byte("wrong"), body, header))
	// Output:
	// true
	// false
}

func ExampleTrailers() {
	msg := `Revert "promote fraud v8"

This reverts commit 1a2b3c4d.

fraud/production rolled back from v8 to v7.

Switchyard-Action: rollback
Switchyard-Model: fraud/production
Switchyard-Reverts: 1a2b3c4d
`
	t := gitops.Trailers(msg)
	fmt.Println(t[gitops.TrailerAction], t[gitops.TrailerModel], t[gitops.TrailerReverts])
	// Output: rollback fraud/production 1a2b3c4d
}
